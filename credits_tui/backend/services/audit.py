"""The audit log (DESIGN.md §8): who signed in, changed the card, bought or exported, and when.

A row is written by ``record`` in the same database transaction as the action it records,
so the two commit or roll back together. An action that fails by rolling its transaction
back (a card refused by the gateway, a purchase refused, too many sign-ins) records its
failure with ``record_apart`` in a transaction of its own, right after, once.

Rows hold safe facts only (amounts, last four, brand, error codes, the email tried at
sign-in). As a safety net, ``record`` blanks anything in a row that looks like a card
number or a bearer token, whatever the caller passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from credits_tui.api_client.models import (
    AuditAction,
    AuditDetailValue,
    AuditEvent,
    AuditOutcome,
    AuditPage,
    TransactionType,
    UserRef,
    cents_to_decimal,
    format_money,
)
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import Account, Card, LedgerTransaction, User, table_of
from credits_tui.backend.db.schema import AuditEvent as AuditRow
from credits_tui.backend.errors import ServiceError, Unprocessable
from credits_tui.backend.services.ledger import utc_now
from credits_tui.backend.services.transaction_filters import time_window
from credits_tui.backend.services.transactions import TransactionFilter, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from credits_tui.backend.services.auth import Principal

Detail = dict[str, AuditDetailValue]

# A run of 12+ digits (spaces or dashes between allowed) is a card number as far as we care;
# ``ct_`` and ``tok_`` strings are our bearer tokens and the gateway's card tokens.
_CARD_NUMBER_RE = re.compile(r"\d(?:[ -]?\d){11,}")
_TOKEN_RE = re.compile(r"\b(?:ct|tok)_[A-Za-z0-9_-]{8,}")
# Deliberately strict: a local part, one @, a dotted domain with a letter top-level domain.
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}$")
NOT_AN_EMAIL = "(not an email address)"


@dataclass(frozen=True)
class Origin:
    """Who asked and from where: what every audit row of one request shares."""

    account_id: int
    user_id: int
    ip: str

    @classmethod
    def of(cls, principal: Principal, ip: str) -> Origin:
        return cls(principal.account_id, principal.user_id, ip)


_INSERT_ROW = table_of(AuditRow).insert()  # built once: a purchase writes one row each


def _scrub(text: str) -> str:
    return _TOKEN_RE.sub("[redacted]", _CARD_NUMBER_RE.sub("[redacted]", text))


def sign_in_email(email: str, known: bool) -> str:
    """The email tried at a sign-in, as the audit row keeps it.

    The email of a user is kept as typed (the admins know it anyway). Anything else is kept
    only when it is shaped like an email address: people do type their password into the
    email field, and that must not end up in the log.
    """
    return email if known or _EMAIL_RE.match(email) else NOT_AN_EMAIL


def record(session: Session, *, account_id: int | None, actor: int | None, action: AuditAction, target: str | None,
           ip: str | None, outcome: AuditOutcome, detail: Detail | None = None) -> None:
    """Add one audit row to ``session``'s transaction. ``actor`` is the acting user's id."""
    safe = {key: _scrub(value) if isinstance(value, str) else value for key, value in (detail or {}).items()}
    # Inserted now rather than at the session's flush: the row references only the account
    # and the user, which exist before any action on them is recorded.
    session.execute(_INSERT_ROW, {"account_id": account_id, "at": utc_now(), "actor_id": actor,
                                  "action": action.value, "target": _scrub(target) if target else None,
                                  "ip": ip[:64] if ip else None, "outcome": outcome.value, "detail": safe})


def record_apart(database: Database, *, account_id: int | None, actor: int | None, action: AuditAction,
                 target: str | None, ip: str | None, outcome: AuditOutcome, detail: Detail | None = None) -> None:
    """One audit row in a transaction of its own: for an action whose own transaction rolled back."""
    with database.write() as session:
        record(session, account_id=account_id, actor=actor, action=action, target=target, ip=ip,
               outcome=outcome, detail=detail)


@contextmanager
def refusals_recorded(database: Database, origin: Origin, action: AuditAction, target: str,
                      detail: Detail) -> Iterator[None]:
    """A request the block refuses (a ServiceError) still leaves its audit row, with the code,
    in a transaction of its own: the block's rolled back."""
    try:
        yield
    except ServiceError as refused:
        record_apart(database, account_id=origin.account_id, actor=origin.user_id, action=action, target=target,
                     ip=origin.ip, outcome=AuditOutcome.refused, detail=detail | {"code": refused.code})
        raise


def _money(cents: int) -> str:
    return format_money(cents_to_decimal(cents))


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    actions: tuple[AuditAction, ...] = ()
    actor: str | None = None  # a user id or email of the account


class AuditLog:
    def __init__(self, database: Database) -> None:
        self.db = database

    def export_csv(self, origin: Origin, filters: TransactionFilter, outcome: AuditOutcome,
                   code: str | None = None) -> None:
        """Record a CSV export and the filters it was asked with (on its own: an export writes nothing else)."""
        detail: Detail = {
            "since": filters.since.isoformat() if filters.since else None,
            "until": filters.until.isoformat() if filters.until else None,
            "transaction_type": ",".join(filters.transaction_types) or None,
            "process_type": ",".join(filters.process_types) or None,
            "user": filters.user, "q": filters.q,
        }
        if code is not None:
            detail["code"] = code
        record_apart(self.db, account_id=origin.account_id, actor=origin.user_id, action=AuditAction.export_csv,
                     target="transactions.csv", ip=origin.ip, outcome=outcome,
                     detail={key: value for key, value in detail.items() if value is not None})

    def page(self, account_id: int, filters: AuditFilter, *, limit: int, cursor: str | None) -> AuditPage:
        """One page of the account's rows, newest first (by id, which follows time)."""
        before = decode_cursor(cursor) if cursor is not None else None
        since, until = time_window(filters.since, filters.until)
        with self.db.read() as session:
            conditions: list[ColumnElement[bool]] = [AuditRow.account_id == account_id]
            if since is not None:
                conditions.append(AuditRow.at >= since)
            if until is not None:
                conditions.append(AuditRow.at < until)
            if filters.actions:
                conditions.append(AuditRow.action.in_([a.value for a in filters.actions]))
            if filters.actor is not None:
                conditions.append(AuditRow.actor_id == _resolve_actor(session, account_id, filters.actor))
            if before is not None:
                conditions.append(AuditRow.id < before)
            rows = session.execute(
                select(AuditRow, User).outerjoin(User, User.id == AuditRow.actor_id)
                .where(*conditions).order_by(AuditRow.id.desc()).limit(limit + 1)
            ).all()
        items = [_event(row, user) for row, user in rows[:limit]]
        return AuditPage(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


def _resolve_actor(session: Session, account_id: int, actor: str) -> int:
    """A user of this account by id or email; a user of another account is as unknown as none."""
    # An id too long for a bigint is no user's, like an email that is no user's.
    by_id = actor.isdigit() and len(actor) <= 18
    where = User.id == int(actor) if by_id else func.lower(User.email) == actor.strip().lower()
    user_id = session.scalar(select(User.id).where(where, User.account_id == account_id))
    if user_id is None:
        raise Unprocessable("unknown_user", f"No user {actor!r} in this account.", "actor")
    return user_id


def _event(row: AuditRow, user: User | None) -> AuditEvent:
    return AuditEvent(
        id=row.id, at=row.at, actor=UserRef(id=user.id, name=user.name, email=user.email) if user else None,
        action=row.action, target=row.target, ip=row.ip, outcome=AuditOutcome(row.outcome), detail=row.detail,
    )


# --- the demo's history ----------------------------------------------------------------------


def seed_audit_history(session: Session, account: Account, *, ip: str = "203.0.113.10") -> int:
    """Audit rows for an account's seeded history, matching its ledger: the card added just
    before the first purchase (by its buyer), and for every purchase a sign-in of its buyer a
    few minutes before and the purchase itself. Call it in a write session once the ledger and
    the card are written; it returns how many rows it wrote. The address is from 203.0.113.0/24,
    the range kept for documentation.
    """
    T = LedgerTransaction
    card = session.get(Card, account.id)
    emails = dict(session.execute(select(User.id, User.email).where(User.account_id == account.id)).all())
    purchases = session.execute(
        select(T.id, T.created_at, T.amount_cents, T.user_id)
        .where(T.account_id == account.id, T.transaction_type == TransactionType.purchase.value,
               T.user_id.is_not(None))
        .order_by(T.id)
    ).all()
    paid_with: Detail = {"last4": card.last4, "brand": card.brand} if card else {}
    rows: list[dict[str, Any]] = []
    if card is not None:
        first = purchases[0] if purchases else None
        rows.append(_seed_row(account.id, first.created_at - timedelta(minutes=1) if first else card.created_at,
                              first.user_id if first else None, AuditAction.card_add, "card", ip, dict(paid_with)))
    for transaction_id, at, amount_cents, buyer in purchases:
        assert buyer is not None  # the query keeps only purchases with a buyer
        rows.append(_seed_row(account.id, at - timedelta(minutes=3), buyer, AuditAction.sign_in, f"user:{buyer}",
                              ip, {"email": emails[buyer]}))
        rows.append(_seed_row(account.id, at, buyer, AuditAction.purchase_create, f"transaction:{transaction_id}",
                              ip, {"amount": _money(amount_cents), **paid_with, "transaction_id": transaction_id}))
    rows.sort(key=lambda values: values["at"])  # ids follow time, as they do for live rows
    for start in range(0, len(rows), 5_000):
        session.execute(table_of(AuditRow).insert(), rows[start:start + 5_000])
    return len(rows)


def _seed_row(account_id: int, at: datetime, actor: int | None, action: AuditAction, target: str, ip: str,
              detail: Detail) -> dict[str, Any]:
    return {"account_id": account_id, "at": at, "actor_id": actor, "action": action.value, "target": target,
            "ip": ip, "outcome": AuditOutcome.success.value, "detail": detail}
