"""Demo data (``serve --demo``, ``credits-tui demo``): two accounts, their users, a card, history.

Everything in it is what the product itself could have written (DESIGN.md §5): Demo Co.'s
history follows the product's rules (``history``), and Other Co.'s month close is the real one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from credits_tui.api_client.models import Role, TransactionType, decimal_to_cents
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database, lock_account
from credits_tui.backend.db.schema import (
    Account,
    Card,
    GatewayCharge,
    LedgerTransaction,
    Purchase,
    QuotaUsage,
    User,
)
from credits_tui.backend.demo.history import (
    AUTO_RECHARGE_THRESHOLD_CENTS,
    AUTO_RECHARGE_TO_CENTS,
    Author,
    CardCharge,
    write_history,
)
from credits_tui.backend.services import ledger
from credits_tui.backend.services.accounts import month_period
from credits_tui.backend.services.audit import seed_audit_history
from credits_tui.backend.services.auth import hash_password
from credits_tui.backend.services.invoicing import (
    InvoicingService,
    period_bounds,
    previous_period,
)
from credits_tui.backend.services.notifications import seed_notifications
from credits_tui.backend.services.payments import TestGateway

DEMO_PASSWORD = "demo-password"
DEMO_ADMIN = "admin@demo.example"
DEMO_TRANSACTIONS = 2000


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role


DEMO_CO_USERS = (
    DemoUser(DEMO_ADMIN, "Ada Admin", Role.admin),
    DemoUser("support@demo.example", "Sam Support", Role.support),
    DemoUser("member@demo.example", "Mia Member", Role.member),
    DemoUser("marketing@demo.example", "Marco Marketing", Role.admin),
    DemoUser("usage-bot@demo.example", "Usage Service", Role.service),
)
OTHER_CO_USERS = (DemoUser("other-admin@demo.example", "Olga Other", Role.admin),)


def create_account(session: Session, name: str, users: tuple[DemoUser, ...],
                   password_hash: str) -> tuple[Account, list[User]]:
    now = ledger.utc_now()
    account = Account(name=name, balance_cents=0, created_at=now - timedelta(days=400))
    session.add(account)
    session.flush()
    rows = [User(account_id=account.id, email=u.email, name=u.name, role=u.role.value,
                 password_hash=password_hash, created_at=account.created_at) for u in users]
    session.add_all(rows)
    session.flush()
    return account, rows


def add_test_card(session: Session, account: Account, *, number_last4: str = "4242",
                  token: str = "tok_test_ok_demo") -> Card:
    now = ledger.utc_now()
    card = Card(account_id=account.id, gateway_token=token, brand="visa", last4=number_last4,
                exp_month=12, exp_year=now.year + 3, cardholder_name="Ada Admin",
                address_line1="1 Demo Way", address_line2=None, address_city="Chicago", address_region="IL",
                address_postal_code="60601", address_country="US", created_at=now, updated_at=now)
    session.add(card)
    return card


def is_empty(database: Database) -> bool:
    with database.read() as session:
        return not session.scalar(select(func.count()).select_from(Account))


def seed_demo(database: Database, settings: Settings, *, transactions: int = DEMO_TRANSACTIONS,
              password_hash: str | None = None, seed: int = 2026,
              progress: Callable[[int], None] | None = None) -> None:
    """Write the demo accounts into an empty database (refuses a database that has data)."""
    if not is_empty(database):
        raise RuntimeError("the database already has accounts; demo data goes into an empty database only")
    password_hash = password_hash or hash_password(DEMO_PASSWORD)
    with database.write() as session:
        demo, users = create_account(session, "Demo Co.", DEMO_CO_USERS, password_hash)
        card = add_test_card(session, demo)
        other, (olga,) = create_account(session, "Other Co.", OTHER_CO_USERS, password_hash)
        demo_id, other_id, olga_id = demo.id, other.id, olga.id
        token, last4 = card.gateway_token, card.last4
        admins = [Author(u.id, u.name, u.email) for u in users if u.role == Role.admin.value]
        service = next(Author(u.id, u.name, u.email) for u in users if u.role == Role.service.value)
    charges = write_history(database, settings, demo_id, token, last4, admins, service, transactions,
                            random.Random(seed), progress)
    record_card_charges(database, demo_id, last4, charges)
    _record_free_quotas(database, settings, demo_id)
    with database.write() as session:
        # Auto-recharge on (below 500 → 2,000), a low-balance alert, and the notifications the
        # history above would have sent.
        seed_notifications(session, session.get_one(Account, demo_id),
                           auto_recharge=(AUTO_RECHARGE_THRESHOLD_CENTS, AUTO_RECHARGE_TO_CENTS))
        # The sign-ins, card and purchases behind the history, as the audit log would have them.
        seed_audit_history(session, session.get_one(Account, demo_id))
    _seed_other_co(database, settings, other_id, olga_id)
    analyze(database)


def record_card_charges(database: Database, account_id: int, card_last4: str, charges: list[CardCharge]) -> None:
    """The one place where the demo's card charges (purchases, auto-recharges, invoice payments, each
    with the charge id its ledger row names) are recorded beyond the ledger: a ``purchases`` row for
    each purchase, as the product keeps, and the payment gateway's own record of every charge (so
    ``credits-tui reconcile`` finds the demo's history consistent)."""
    T = LedgerTransaction
    purchases = [c for c in charges if c.kind is TransactionType.purchase]
    with database.write() as session:
        row_ids = dict(session.execute(select(T.reference, T.id).where(
            T.account_id == account_id, T.transaction_type == TransactionType.purchase.value)).all())
        session.execute(insert(Purchase), [
            dict(account_id=account_id, user_id=c.user_id, amount_cents=c.amount_cents,
                 charged_cents=c.amount_cents, card_last4=card_last4, gateway_charge_id=c.charge_id,
                 transaction_id=row_ids[c.charge_id], created_at=c.at)
            for c in purchases])
        session.execute(insert(GatewayCharge), [
            dict(id=c.charge_id, idempotency_key=c.idempotency_key, amount_cents=c.amount_cents, created_at=c.at)
            for c in charges])


def _seed_other_co(database: Database, settings: Settings, account_id: int, admin_id: int) -> None:
    """A small prepaid customer whose transcription went past zero last month.

    Its card was removed by accounting (at its request) before the month close, so the real
    month close left last month's invoice unpaid and says why; the balance stays below zero.
    """
    last_month, _ = period_bounds(previous_period(ledger.utc_now()))
    postcard, handwritten, email_test, zoominfo, audio, business_card = (settings.price_of(name) for name in (
        "postcard", "handwritten_letter", "advanced_email_test", "zoominfo_people_search",
        "premium_audio_transcription", "business_card_transcription"))
    usage = [(-250, postcard, 40), (-190, handwritten, 10), (-130, postcard, 30), (-70, email_test, 100),
             (-20, zoominfo, 50), (3, audio, 1000), (12, business_card, 600)]
    with database.write() as session:
        account = lock_account(session, account_id)
        olga = session.get_one(User, admin_id)
        ledger.append(session, account, transaction_type=TransactionType.adjustment, amount_cents=50_000,
                      description="Opening balance", at=last_month - timedelta(days=280))
        for days, price, quantity in usage:
            assert price is not None
            ledger.append(session, account, transaction_type=TransactionType.usage,
                          amount_cents=-quantity * decimal_to_cents(price.unit_price), user=olga,
                          process_type=price.process_type, process_label=price.label, quantity=quantity,
                          description=f"{price.label} × {quantity}", at=last_month + timedelta(days=days))
    InvoicingService(database, settings, TestGateway(database)).close_month(previous_period(ledger.utc_now()))


def _record_free_quotas(database: Database, settings: Settings, account_id: int) -> None:
    """This month's quota use, consistent with the history: charged use comes after the free units."""
    period = month_period(ledger.utc_now())
    start = datetime.strptime(period, "%Y-%m").replace(tzinfo=timezone.utc)
    T = LedgerTransaction
    with database.write() as session:
        for price in settings.prices:
            if not price.free_quota:
                continue
            charged = session.scalar(select(func.coalesce(func.sum(T.quantity), 0)).where(
                T.account_id == account_id, T.process_type == price.process_type, T.created_at >= start))
            if charged:
                session.add(QuotaUsage(account_id=account_id, process_type=price.process_type, period=period,
                                       used=price.free_quota + int(charged)))


def analyze(database: Database) -> None:
    """Refresh the planner's statistics after a bulk load; on PostgreSQL, vacuum as well.

    A freshly loaded table has no visibility map, so PostgreSQL's autovacuum comes round soon
    after and vacuums the whole ledger while it is being searched (53 s after a million-row seed,
    in the middle of the search benchmark), and until then each first read of a row writes its
    hint bits. Vacuuming here does that work once, before anyone reads: 0.6 s for 200,000 rows.
    """
    with database.write_engine.connect() as connection:
        if database.is_sqlite:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        else:  # VACUUM cannot run inside a transaction
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM (ANALYZE)")
