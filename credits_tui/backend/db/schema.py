"""The database schema (SQLAlchemy 2 declarative). Alembic migrations create it.

Money is integer cents everywhere. Times are stored as naive UTC and read back as aware UTC.
The ledger (``transactions``) is append-only; ``accounts.balance_cents`` is a cache of its
sum kept in the same database transaction as every append.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a real bigint.
BigId = BigInteger().with_variant(Integer(), "sqlite")
MAX_ID = 2**63 - 1  # the largest id either database can hold: a larger number is no row's


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (same on both dialects)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


def table_of(model: type[Base]) -> Table:
    """The model's table, for bulk inserts and index work. SQLAlchemy types ``__table__`` as any
    FromClause; a declarative model's is always a Table."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # The newest ledger time: appends never go back in time, so id order is time order.
    last_transaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    auto_recharge_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_recharge_threshold_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The balance a recharge tops up to (the charge is ``to - balance``); see services/auto_recharge.py.
    auto_recharge_to_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Declines in a row since the last success; at 3 the rule turns itself off.
    auto_recharge_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    auto_recharge_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    auto_recharge_failure_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    auto_recharge_failure_message: Mapped[str | None] = mapped_column(String(300), nullable=True)
    low_balance_threshold_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # JSON list of user ids told about events; NULL means the account's admins (the default).
    alert_recipient_ids: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoginAttempt(Base):
    """One sign-in attempt, taken before the password is checked; counted for the 429s.

    A row is written (``succeeded`` NULL) in the same write transaction that counts the
    window, so parallel requests cannot all pass the count; it becomes True or False once the
    password is checked. A row left NULL (its worker died mid-check) counts as a failure.
    Kept in the database (not in process memory) so the limits hold across workers.
    """

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    client: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    succeeded: Mapped[bool | None] = mapped_column(Boolean, nullable=True)

    __table_args__ = (
        # (email, client, time) also serves the per-email count by its prefix.
        Index("ix_login_attempts_email_client_time", "email", "client", "created_at"),
        Index("ix_login_attempts_client_time", "client", "created_at"),
    )


class Card(Base):
    """The card on file: the gateway's token and what a person may see, never the number."""

    __tablename__ = "cards"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    gateway_token: Mapped[str] = mapped_column(String(100))
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    cardholder_name: Mapped[str] = mapped_column(String(200))
    address_line1: Mapped[str] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200), nullable=True)
    address_city: Mapped[str] = mapped_column(String(100))
    address_region: Mapped[str | None] = mapped_column(String(100), nullable=True)
    address_postal_code: Mapped[str] = mapped_column(String(20))
    address_country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerTransaction(Base):
    """One change of balance. Rows are only ever inserted."""

    __tablename__ = "transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    transaction_type: Mapped[str] = mapped_column(String(32))
    process_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    quantity: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # units, for usage
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    balance_after_cents: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(500))
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Lower-cased words of the user, the types, the description and the reference: what the
    # free-text search indexes (FTS5 on SQLite, a GIN tsvector index on PostgreSQL).
    search_text: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_transactions_account_id", "account_id", "id"),
        Index("ix_transactions_account_time", "account_id", "created_at", "id"),
        Index("ix_transactions_account_type", "account_id", "transaction_type", "id"),
        Index("ix_transactions_account_process", "account_id", "process_type", "id"),
        Index("ix_transactions_account_user", "account_id", "user_id", "id"),
    )


class DailyTotal(Base):
    """Per-day aggregates of the ledger, kept in step with every append.

    They let the summary of a long window add a few hundred rows instead of a million;
    ``process_type`` is '' and ``user_id`` 0 where the transaction has none.
    """

    __tablename__ = "transaction_daily_totals"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    transaction_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    process_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    added_cents: Mapped[int] = mapped_column(BigInteger)
    used_cents: Mapped[int] = mapped_column(BigInteger)
    # Units of the day's usage rows (the sum of ``transactions.quantity``), for daily usage.
    quantity: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    __table_args__ = (
        # Covers daily usage: one type's days read in (day, process type) order from the index alone.
        Index("ix_daily_totals_type_day", "account_id", "transaction_type", "day", "process_type", "user_id",
              "used_cents", "quantity"),
    )


class DailyUsageTotal(Base):
    """The day's usage per process type, without the user: what the usage chart reads.

    Kept with ``DailyTotal`` in the same upsert batch (services/ledger.py ``DailyTotals``), so a
    13-month chart reads one row per day and process type instead of one per user as well.
    On SQLite the table is its primary key (WITHOUT ROWID): a window is one range of one
    B-tree, read in the answer's order.
    """

    __tablename__ = "usage_daily_totals"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # Code point order (SQLite's own): the chart's order, so PostgreSQL reads the key in the
    # answer's order too instead of sorting by its default collation.
    process_type: Mapped[str] = mapped_column(String(64).with_variant(String(64, collation="C"), "postgresql"),
                                              primary_key=True)
    used_cents: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = {"sqlite_with_rowid": False}


class Purchase(Base):
    __tablename__ = "purchases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    charged_cents: Mapped[int] = mapped_column(BigInteger)
    card_last4: Mapped[str] = mapped_column(String(4))
    gateway_charge_id: Mapped[str] = mapped_column(String(100))
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdempotencyKey(Base):
    """The first outcome of a purchase request, replayed for the same key and body."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    # 'in_progress' while the first request runs, 'done' with its stored response after.
    state: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("account_id", "key", name="uq_idempotency_account_key"),)


class QuotaUsage(Base):
    """Units of a process type used in one calendar month (UTC), free quota included."""

    __tablename__ = "quota_usage"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    process_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class Invoice(Base):
    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    card_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    gateway_charge_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(String(300), nullable=True)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (UniqueConstraint("account_id", "period", name="uq_invoices_account_period"),)


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    process_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class GatewayCharge(Base):
    """A charge as the test payment processor keeps it: its own record, not the ledger's.

    Written and committed by the gateway before it reports the charge, so it survives a ledger
    transaction that rolls back or a server killed mid-purchase, as a real processor's would;
    ``credits-tui reconcile`` holds the ledger against it.
    """

    __tablename__ = "gateway_charges"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    # The caller's idempotency key: the same key always yields this one charge.
    idempotency_key: Mapped[str] = mapped_column(String(320), unique=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AutoRechargeAttempt(Base):
    """One crossing below the auto-recharge threshold and the charge that answers it.

    Claimed in the same database transaction as the debit that crossed (the account row is
    locked), so concurrent debits see it and claim nothing more; while one is ``pending`` no
    other is made. ``key`` is the gateway's idempotency key: the worker whose lease
    (``claimed_until``) ran out is replaced by the next debit, which charges with the same key
    and amount and so gets the first charge back instead of a second one.
    """

    __tablename__ = "auto_recharge_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    key: Mapped[str] = mapped_column(String(100), unique=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))  # pending, succeeded, failed
    claimed_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"), nullable=True)

    __table_args__ = (Index("ix_auto_recharge_attempts_account_state", "account_id", "state"),)


class Notification(Base):
    """The outbox: one notification, written in the database transaction of its event and
    delivered later by the mail sender (services/mail_sender.py).

    A sender claims a row by moving ``claimed_until`` forward with a conditional UPDATE, so
    only one worker sends it; a claim whose worker died runs out and is taken again.
    ``dedupe_key`` makes an event that may be noticed by several workers (a card expiring)
    a single row.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    recipients: Mapped[str] = mapped_column(Text)  # JSON list of email addresses
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)

    __table_args__ = (
        Index("ix_notifications_account_id", "account_id", "id"),
        Index("ix_notifications_pending", "delivered_at", "next_attempt_at"),
    )


class AuditEvent(Base):
    """Who did what to an account's sign-ins, card and purchases (DESIGN.md §8).

    Only ever inserted: no code path updates or deletes a row, and on PostgreSQL a trigger
    refuses UPDATE and DELETE. Never holds a card number, CVC, password or token.
    ``account_id`` is NULL for a failed sign-in with an email no user has: such a row belongs
    to no account, so no admin sees it.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        # Pages are read newest first by id within an account, whatever the filter.
        Index("ix_audit_events_account_id", "account_id", "id"),
        Index("ix_audit_events_account_action", "account_id", "action", "id"),
        Index("ix_audit_events_account_actor", "account_id", "actor_id", "id"),
        Index("ix_audit_events_account_time", "account_id", "at", "id"),
    )
