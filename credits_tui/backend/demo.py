"""Demo data (``serve --demo``, ``credits-tui demo``): two accounts, four users, a card, history.

History is written in bulk, in time order (so ids follow time, as the ledger requires), with
the per-day totals computed in memory; a million rows take about a minute on SQLite.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credits_tui.api_client.models import BillingMode, ProcessTypePrice, Role, TransactionType, decimal_to_cents
from credits_tui.backend.config import Settings
from credits_tui.backend.db import search_index
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import Account, Card, LedgerTransaction, QuotaUsage, User
from credits_tui.backend.services.auth import hash_password
from credits_tui.backend.services.accounts import month_period
from credits_tui.backend.services.ledger import DailyTotals, search_words, utc_now

DEMO_PASSWORD = "demo-password"
DEMO_ADMIN = "admin@demo.example"
DEMO_TRANSACTIONS = 2000
_BATCH = 20_000
_REBUILD_INDEXES_FROM = 50_000  # rows; below this, indexing as we go is cheaper


@dataclass(frozen=True)
class Author:
    """Who caused a seeded row (a plain copy, usable after its session closed)."""

    id: int
    name: str
    email: str
    role: str


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


def create_account(session: Session, name: str, users: tuple[DemoUser, ...], password_hash: str) -> tuple[Account, list[User]]:
    now = utc_now()
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
    now = utc_now()
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
              password_hash: str | None = None, seed: int = 2026) -> None:
    """Write the demo accounts into an empty database (refuses a database that has data)."""
    if not is_empty(database):
        raise RuntimeError("the database already has accounts; demo data goes into an empty database only")
    password_hash = password_hash or hash_password(DEMO_PASSWORD)
    with database.write() as session:
        demo, users = create_account(session, "Demo Co.", DEMO_CO_USERS, password_hash)
        add_test_card(session, demo)
        other, _ = create_account(session, "Other Co.", OTHER_CO_USERS, password_hash)
        demo_id, other_id = demo.id, other.id
        session.flush()
        authors = [Author(u.id, u.name, u.email, u.role) for u in users]
    people = [a for a in authors if a.role in (Role.admin.value, Role.support.value)]
    service = next(a for a in authors if a.role == Role.service.value)
    _bulk_history(database, settings, demo_id, people, service, transactions, random.Random(seed))
    _bulk_history(database, settings, other_id, [], None, 0, random.Random(seed + 1), opening_cents=50_000)
    _record_free_quotas(database, settings, demo_id)


def _record_free_quotas(database: Database, settings: Settings, account_id: int) -> None:
    """This month's quota use, consistent with the history: charged use comes after the free units."""
    period = month_period(utc_now())
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


def _history(settings: Settings, people: list[Author], service: Author | None, count: int, rng: random.Random,
             opening_cents: int) -> Iterator[dict]:
    """Plausible rows over the past 13 months, oldest first, keeping the balance positive."""
    now = utc_now()
    start = now - timedelta(days=395)
    step = (now - timedelta(minutes=5) - start) / max(count, 1)
    balance = 0
    prices = list(settings.prices)
    usable = [p for p in prices if p.billing is BillingMode.prepaid] + [
        p for p in prices if p.billing is BillingMode.invoice][:1]
    unit_cents = {p.process_type: decimal_to_cents(p.unit_price) for p in prices}

    @lru_cache(maxsize=4096)
    def fixed_words(user: Author | None, kind: TransactionType, process: str | None, label: str | None,
                    description: str) -> str:
        return " ".join(search_words(user.name if user else None, user.email if user else None, kind.value,
                                     process, label, description))

    def row(at: datetime, kind: TransactionType, amount: int, user: Author | None, description: str,
            process: ProcessTypePrice | None = None, quantity: int | None = None,
            reference: str | None = None) -> dict:
        nonlocal balance
        balance += amount
        process_type = process.process_type if process else None
        words = fixed_words(user, kind, process_type, process.label if process else None, description)
        return dict(created_at=at, transaction_type=kind.value, process_type=process_type,
                    user_id=user.id if user else None, quantity=quantity, amount_cents=amount,
                    balance_after_cents=balance, description=description, reference=reference,
                    search_text=" ".join([words, *search_words(reference)]))

    buyer = people[0] if people else None
    yield row(start, TransactionType.purchase if buyer else TransactionType.adjustment,
              opening_cents or 500_000, buyer, "Opening balance" if not buyer else "Purchase of 5000.00 credits",
              reference="ch_demo_opening")
    for i in range(count - 1):
        at = min(start + step * (i + 1) + timedelta(seconds=rng.randint(0, 59)), now - timedelta(minutes=1))
        roll = rng.random()
        user = rng.choice(people) if people else None
        if balance < 20_000:
            amount = rng.choice((100_000, 250_000))
            yield row(at, TransactionType.auto_recharge, amount, None,
                      f"Auto-recharge of {amount // 100}.00 credits", reference=f"ch_demo_{i}")
        elif roll < 0.86:
            process = rng.choice(usable)
            quantity = rng.randint(1, 40)
            yield row(at, TransactionType.usage, -quantity * unit_cents[process.process_type],
                      service if service and rng.random() < 0.3 else user,
                      f"{process.label} × {quantity}", process, quantity, f"campaign-{rng.randint(1, 60)}")
        elif roll < 0.95:
            amount = rng.choice((2_500, 5_000, 10_000, 25_000, 50_000))
            yield row(at, TransactionType.purchase, amount, user, f"Purchase of {amount // 100}.00 credits",
                      reference=f"ch_demo_{i}")
        elif roll < 0.97:
            yield row(at, TransactionType.invoice_payment, rng.choice((1_250, 4_375)), None,
                      "Payment of transcription invoice", reference=f"inv_demo_{i}")
        elif roll < 0.99:
            yield row(at, TransactionType.refund, rng.choice((125, 350, 1_000)), user,
                      "Refund of a failed postcard batch", reference=f"refund-{i}")
        else:
            yield row(at, TransactionType.adjustment, rng.choice((500, -500, 2_000)), user,
                      "Goodwill adjustment by Lead Liaison support")


def _bulk_history(database: Database, settings: Settings, account_id: int, people: list[Author],
                  service: Author | None, count: int, rng: random.Random, opening_cents: int = 0) -> None:
    """Insert the history in one transaction; a large load rebuilds the indexes once at the end."""
    table = LedgerTransaction.__table__
    totals = DailyTotals()
    batch: list[dict] = []
    last: dict | None = None
    with database.write() as session:
        connection = session.connection()
        bulk = count >= _REBUILD_INDEXES_FROM
        if bulk:
            for index in table.indexes:
                index.drop(connection)
            search_index.suspend(connection)
        for values in _history(settings, people, service, max(count, 1), rng, opening_cents):
            values["account_id"] = account_id
            batch.append(values)
            totals.add(account_id, values["created_at"], values["transaction_type"], values["process_type"],
                       values["user_id"], values["amount_cents"], values["quantity"])
            if len(batch) >= _BATCH:
                last = batch[-1]
                connection.execute(table.insert(), batch)
                batch.clear()
        if batch:
            last = batch[-1]
            connection.execute(table.insert(), batch)
        if bulk:
            for index in table.indexes:
                index.create(connection)
            search_index.rebuild(connection)
        assert last is not None
        account = session.get_one(Account, account_id)
        account.balance_cents = last["balance_after_cents"]
        account.last_transaction_at = last["created_at"]
        totals.write(session)
    analyze(database)


def analyze(database: Database) -> None:
    """Refresh the planner's statistics after a bulk load."""
    with database.write_engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
