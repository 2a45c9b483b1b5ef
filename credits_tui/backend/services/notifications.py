"""Alerts and the notification outbox (DESIGN.md §7).

A notification is a row of ``notifications`` added with ``notify`` in the caller's own
database transaction, the one that records its event: the event and its notification
commit together or not at all. The mail sender (``mail_sender.py``) delivers them later.
The recipients are fixed when the row is written, as email addresses: a later change of
the settings does not re-address what already happened.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credits_tui.api_client.models import (
    AuditAction,
    AuditOutcome,
    Notification,
    NotificationKind,
    NotificationPage,
    NotificationSettings,
    NotificationSettingsUpdate,
    Role,
    TransactionType,
    cents_to_decimal,
    decimal_to_cents,
    format_money,
)
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database, lock_account
from credits_tui.backend.db.schema import MAX_ID, Account, Card, LedgerTransaction, User, table_of
from credits_tui.backend.db.schema import Notification as NotificationRow
from credits_tui.backend.errors import Unprocessable
from credits_tui.backend.services import audit
from credits_tui.backend.services.ledger import utc_now
from credits_tui.backend.services.transactions import decode_cursor, encode_cursor


def credits(cents: int) -> str:
    return f"{format_money(cents_to_decimal(cents))} credits"


def usd(cents: int) -> str:
    return f"{format_money(cents_to_decimal(cents))} USD"


_outbox = table_of(NotificationRow)
_INSERT_ROW = _outbox.insert().returning(_outbox.c.id)  # built once: every purchase writes one


class Addressee(Protocol):
    """What an event's notification reads of its account: an ``Account`` row, or the account
    as a ledger ``post`` left it."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def balance_cents(self) -> int: ...

    @property
    def alert_recipient_ids(self) -> str | None: ...


_users = table_of(User)
# The users told about an account's events: as set, else its admins. Built once, like _INSERT_ROW.
_ADMINS = (_users.c.account_id == bindparam("account")) & (_users.c.role == Role.admin.value)
_ADMIN_IDS = select(_users.c.id).where(_ADMINS).order_by(_users.c.id)
_ADMIN_EMAILS = select(_users.c.email).where(_ADMINS).order_by(_users.c.id)
_CHOSEN_EMAILS = (select(_users.c.email).where(_users.c.id.in_(bindparam("ids", expanding=True)))
                  .order_by(_users.c.id))


def recipient_ids(session: Session, account: Addressee) -> list[int]:
    """The ids of the users told about the account's events: as set, else its admins."""
    if account.alert_recipient_ids is not None:
        return list(json.loads(account.alert_recipient_ids))
    return list(session.scalars(_ADMIN_IDS, {"account": account.id}))


def _recipient_emails(session: Session, account: Addressee) -> list[str]:
    if account.alert_recipient_ids is not None:
        return list(session.scalars(_CHOSEN_EMAILS, {"ids": json.loads(account.alert_recipient_ids)}))
    return list(session.scalars(_ADMIN_EMAILS, {"account": account.id}))


def notify(session: Session, account: Addressee, kind: NotificationKind, subject: str, body: str, *,
           at: datetime | None = None, dedupe_key: str | None = None) -> int:
    """Add a notification to the outbox in the caller's unit of work; returns its id.

    Inserted at once rather than at the session's flush (a purchase's receipt is then the
    only object its unit of work would flush): the row references only the account.
    """
    emails = _recipient_emails(session, account)
    row_id: int = session.execute(_INSERT_ROW, {
        "account_id": account.id, "created_at": at or utc_now(), "kind": kind.value,
        "subject": f"{account.name}: {subject}", "body": body, "recipients": json.dumps(emails),
        "dedupe_key": dedupe_key, "attempts": 0,
    }).scalar_one()
    return row_id


# --- the events -------------------------------------------------------------------------------


def low_balance_crossed(session: Session, account: Account, before_cents: int) -> None:
    """Tell once per crossing: the balance went from at or above the alert threshold to below it.

    The crossing is read from the balance before and after the change, on the locked account,
    so it needs no flag: falling again after rising back is a new crossing (re-armed).
    """
    threshold = account.low_balance_threshold_cents
    if threshold is None or not (before_cents >= threshold > account.balance_cents):
        return
    notify(session, account, NotificationKind.low_balance, "Purchase Credits balance is low",
           f"The Purchase Credits balance of {account.name} is {credits(account.balance_cents)}, "
           f"below the alert threshold of {credits(threshold)}.\n\n"
           "Buy credits, or turn on auto-recharge on the Billing screen, so that letters, postcards "
           "and other services keep running.")


def purchase_receipt(session: Session, account: Addressee, *, amount_cents: int, charge_id: str, card_last4: str,
                     automatic: bool) -> None:
    what = "Auto-recharge" if automatic else "Purchase"
    notify(session, account, NotificationKind.purchase_receipt, f"Receipt: {what.lower()} of {credits(amount_cents)}",
           f"{what} of {credits(amount_cents)}, charged {usd(amount_cents)} to the "
           f"card ending {card_last4} (charge {charge_id}).\n"
           f"The balance is now {credits(account.balance_cents)}.")


def card_expiring_check(database: Database, now: datetime | None = None) -> int:
    """Notify once per card that expires within 30 days (at the end of its expiry month).

    Run by the mail sender's loop rather than on a request: expiry is a matter of the
    calendar, and an account whose admins sign in rarely is the one that needs the warning
    most. Several workers may run it at once; the row's ``dedupe_key`` (account, card token,
    expiry) lets only one of them write it. Returns how many notifications were written.
    """
    now = now or utc_now()
    with database.read() as session:
        cards = session.execute(select(Card.account_id, Card.gateway_token, Card.last4, Card.brand,
                                       Card.exp_month, Card.exp_year)).all()
    written = 0
    for account_id, token, last4, brand, month, year in cards:
        ends = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=now.tzinfo)
        if not (ends - timedelta(days=30) <= now < ends):
            continue
        key = f"card_expiring:{account_id}:{token}:{year:04d}-{month:02d}"
        try:
            with database.write() as session:
                if session.scalar(select(NotificationRow.id).where(NotificationRow.dedupe_key == key)) is not None:
                    continue
                account = session.get_one(Account, account_id)
                notify(session, account, NotificationKind.card_expiring, "The card on file expires soon",
                       f"The {brand} card ending {last4} expires at the end of {month:02d}/{year}. "
                       "Edit the card on the Billing screen, or add a new one, so that purchases, "
                       "auto-recharge and invoices keep being paid.", at=now, dedupe_key=key)
                written += 1
        except IntegrityError:
            pass  # another worker wrote it first
    return written


def seed_notifications(session: Session, account: Account, *, low_balance_cents: int | None = 250_00,
                       auto_recharge: tuple[int, int] | None = (500_00, 2000_00)) -> int:
    """Demo data: the account's alert and auto-recharge settings, and the notification history
    its ledger would have written, delivered when it happened.

    Call after the account's transactions are in (the history is read from them): a receipt
    for every purchase and auto-recharge, an ``invoice_paid`` for every invoice payment and a
    ``low_balance`` for every crossing of ``low_balance_cents``. ``auto_recharge`` is
    (threshold, recharge-to) in cents, or None to leave it off. Returns the rows written.
    """
    account.low_balance_threshold_cents = low_balance_cents
    if auto_recharge is not None:
        account.auto_recharge_enabled = True
        account.auto_recharge_threshold_cents, account.auto_recharge_to_cents = auto_recharge
    emails = json.dumps(_recipient_emails(session, account))
    card = session.get(Card, account.id)
    last4 = card.last4 if card else "4242"
    rows: list[dict[str, object]] = []

    def add(kind: NotificationKind, at: datetime, subject: str, body: str) -> None:
        rows.append(dict(account_id=account.id, created_at=at, kind=kind.value, subject=f"{account.name}: {subject}",
                         body=body, recipients=emails, delivered_at=at, attempts=1))

    T = LedgerTransaction
    # Only the rows that notify are read (a few in a hundred of a long history). A row's balance
    # before it is its balance after less its amount: the ledger is a running sum.
    notifies: ColumnElement[bool] = T.transaction_type.in_((
        TransactionType.purchase.value, TransactionType.auto_recharge.value, TransactionType.invoice_payment.value))
    if low_balance_cents is not None:
        notifies = or_(notifies, and_(T.balance_after_cents - T.amount_cents >= low_balance_cents,
                                      T.balance_after_cents < low_balance_cents))
    history = session.execute(select(T.created_at, T.transaction_type, T.amount_cents, T.balance_after_cents,
                                     T.reference, T.description)
                              .where(T.account_id == account.id, notifies).order_by(T.id)).yield_per(10_000)
    for at, kind, amount, after, reference, description in history:
        before = after - amount
        if kind in (TransactionType.purchase.value, TransactionType.auto_recharge.value):
            what = "Auto-recharge" if kind == TransactionType.auto_recharge.value else "Purchase"
            add(NotificationKind.purchase_receipt, at, f"Receipt: {what.lower()} of {credits(amount)}",
                f"{what} of {credits(amount)}, charged {usd(amount)} to the card ending {last4} "
                f"(charge {reference}).\nThe balance is now {credits(after)}.")
        elif kind == TransactionType.invoice_payment.value:
            add(NotificationKind.invoice_paid, at, "Invoice paid",
                f"{description}: {usd(amount)} charged to the card ending {last4} (charge {reference}).\n"
                f"The balance is now {credits(after)}.")
        if low_balance_cents is not None and before >= low_balance_cents > after:
            add(NotificationKind.low_balance, at, "Purchase Credits balance is low",
                f"The Purchase Credits balance of {account.name} is {credits(after)}, below the alert "
                f"threshold of {credits(low_balance_cents)}.")
    if rows:
        session.execute(table_of(NotificationRow).insert(), rows)
    return len(rows)


# --- settings and the list --------------------------------------------------------------------


class NotificationService:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.db = database
        self.settings = settings

    def get_settings(self, account_id: int) -> NotificationSettings:
        with self.db.read() as session:
            account = session.get_one(Account, account_id)
            return _settings_model(session, account)

    def put_settings(self, origin: audit.Origin, update: NotificationSettingsUpdate) -> NotificationSettings:
        """Save the alert settings, with their audit row; refused settings are audited too, and
        save nothing."""
        threshold = update.low_balance_threshold
        facts: audit.Detail = {"low_balance_threshold": None if threshold is None else format_money(threshold),
                               "recipients": ",".join(str(i) for i in update.recipients)}  # at most 100
        with audit.refusals_recorded(self.db, origin, AuditAction.alerts_update, "alerts", facts):
            return self._put_settings(origin, update, facts)

    def _put_settings(self, origin: audit.Origin, update: NotificationSettingsUpdate,
                      facts: audit.Detail) -> NotificationSettings:
        threshold = update.low_balance_threshold
        if threshold is not None and threshold < 0:
            raise Unprocessable("invalid_threshold", "The low-balance threshold cannot be negative.",
                                "low_balance_threshold")
        wanted = list(dict.fromkeys(update.recipients))
        with self.db.write() as session:
            account = lock_account(session, origin.account_id)
            possible = [i for i in wanted if 0 < i <= MAX_ID]  # a larger number overflows the query: no id
            known = set(session.scalars(select(User.id).where(User.account_id == origin.account_id,
                                                              User.id.in_(possible))))
            if unknown := [i for i in wanted if i not in known]:
                raise Unprocessable("unknown_recipient",
                                    f"Recipients must be users of this account; {unknown[0]} is not.", "recipients")
            account.low_balance_threshold_cents = None if threshold is None else decimal_to_cents(threshold)
            account.alert_recipient_ids = json.dumps(wanted)
            audit.record(session, account_id=origin.account_id, actor=origin.user_id,
                         action=AuditAction.alerts_update, target="alerts", ip=origin.ip,
                         outcome=AuditOutcome.success, detail=facts)
            return _settings_model(session, account)

    def page(self, account_id: int, *, limit: int, cursor: str | None) -> NotificationPage:
        before = decode_cursor(cursor) if cursor is not None else None
        query = select(NotificationRow).where(NotificationRow.account_id == account_id)
        if before is not None:
            query = query.where(NotificationRow.id < before)
        with self.db.read() as session:
            rows = session.scalars(query.order_by(NotificationRow.id.desc()).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return NotificationPage(
            items=[Notification(id=r.id, created_at=r.created_at, kind=NotificationKind(r.kind), subject=r.subject,
                                body=r.body, recipients=json.loads(r.recipients), delivered_at=r.delivered_at)
                   for r in rows],
            next_cursor=encode_cursor(rows[-1].id) if more else None,
        )


def _settings_model(session: Session, account: Account) -> NotificationSettings:
    threshold = account.low_balance_threshold_cents
    return NotificationSettings(low_balance_threshold=None if threshold is None else cents_to_decimal(threshold),
                                recipients=recipient_ids(session, account))
