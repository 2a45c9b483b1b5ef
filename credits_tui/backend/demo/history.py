"""Demo Co.'s history, generated oldest first by the rules the product itself follows.

- Only admins buy; usage comes from admins and the usage service (the roles that may record it);
  refunds and adjustments are Lead Liaison's, so they name no user.
- Prepaid usage needs the credits (an admin buys first when they are short); post-paid
  transcription may take the balance below zero.
- A month that ends below zero is closed as ``InvoicingService.close_month`` does: on the first
  row of the next month its invoice (post-paid lines per process type, then the part the prepaid
  balance covered) is charged to the card and an ``invoice_payment`` brings the balance back.
  In a few "tight" months before auto-recharge the admins stop buying in the last days, so
  transcription does take the balance past zero.
- Auto-recharge was turned on ``AUTO_RECHARGE_DAYS`` ago: from then on every debit that leaves the
  balance below the threshold is followed at once by an ``auto_recharge`` up to the target.

Rows are made as tuples and handed to the driver in bulk (``db/bulk.py``); the paid invoices, which
name their payment rows, and the per-day totals are written once the ledger is in.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import NamedTuple, TypedDict

from sqlalchemy import Date, case, cast, func, insert, select
from sqlalchemy.engine import Connection

from credits_tui.api_client.models import (
    BillingMode,
    InvoiceStatus,
    ProcessTypePrice,
    TransactionType,
    cents_to_decimal,
    decimal_to_cents,
    format_money,
)
from credits_tui.backend.config import Settings
from credits_tui.backend.db import bulk
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import (
    Account,
    DailyTotal,
    DailyUsageTotal,
    Invoice,
    InvoiceLine,
    LedgerTransaction,
    table_of,
)
from credits_tui.backend.services.accounts import month_period, next_month_start
from credits_tui.backend.services.ledger import search_words, utc_now

_BATCH = 20_000  # rows between two progress reports
_REBUILD_INDEXES_FROM = 50_000  # rows; below this, indexing as we go is cheaper
HISTORY_DAYS = 395
AUTO_RECHARGE_DAYS = 122  # the rule was turned on about four months ago
AUTO_RECHARGE_THRESHOLD_CENTS = 50_000
AUTO_RECHARGE_TO_CENTS = 200_000
_TIGHT_MONTHS = 3  # months before auto-recharge whose transcription went past zero
_TIGHT_DAYS = 8  # the last days of a tight month, when nobody bought
# A shorter history has bigger batches (up to 10x), so that its months still see the balance run
# low, auto-recharge and invoices.
_FULL_VOLUME_ROWS = 2_000
_UNITS = range(1, 41)  # of a usage row, before scaling
_CAMPAIGNS = tuple((f"campaign-{n}", f"campaign {n}") for n in range(1, 61))  # usage references, their words
# In the words of services/auto_recharge.rule_text, which writes today's rows.
AUTO_RECHARGE_DESCRIPTION = (
    f"Auto-recharge: balance below {format_money(cents_to_decimal(AUTO_RECHARGE_THRESHOLD_CENTS))} credits, "
    f"recharged to {format_money(cents_to_decimal(AUTO_RECHARGE_TO_CENTS))} credits")


@dataclass(frozen=True)
class Author:
    """Who caused a seeded row (a plain copy, usable after its session closed)."""

    id: int
    name: str
    email: str


@dataclass(frozen=True)
class CardCharge:
    """One charge of the card on file that the history implies, as the gateway made it."""

    kind: TransactionType  # purchase, auto_recharge or invoice_payment
    at: datetime
    amount_cents: int
    idempotency_key: str
    charge_id: str
    user_id: int | None


class LedgerRow(NamedTuple):
    """One generated ledger row: the values of ``LEDGER_COLUMNS`` as the database stores them."""

    account_id: int
    created_at: str  # naive UTC, YYYY-MM-DD HH:MM:SS.ffffff (SQLite's text; PostgreSQL parses it)
    transaction_type: str
    process_type: str | None
    user_id: int | None
    quantity: int | None
    amount_cents: int
    balance_after_cents: int
    description: str
    reference: str | None
    search_text: str


LEDGER_COLUMNS = LedgerRow._fields


class InvoiceLineValues(TypedDict):
    process_type: str | None
    description: str
    quantity: int
    amount_cents: int


@dataclass
class _Month:
    """The month being written: when it ends and its post-paid usage (what its invoice's lines say)."""

    period: str
    end: datetime
    tight_from: datetime | None  # in a tight month, when nobody buys any more
    postpaid: dict[str, list[int]] = field(default_factory=dict)  # process type -> [units, cents used]


@dataclass(frozen=True)
class PaidInvoice:
    """A month closed below zero and paid by card; written once its payment row has an id."""

    period: str
    amount_cents: int
    lines: list[InvoiceLineValues]
    at: datetime
    charge_id: str


def _next_month(moment: datetime) -> datetime:
    return next_month_start(moment).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc)


class DemoCoHistory:
    """The rows of Demo Co.'s ledger, oldest first, and the card charges behind them.

    ``rows`` runs once per row of a history of up to millions, so it keeps to little work a row:
    times are naive UTC, as stored (charges and invoices get theirs aware), rows are plain
    tuples, and the search words of a row's repeating parts are worked out once.
    """

    def __init__(self, settings: Settings, account_id: int, card_token: str, admins: list[Author],
                 service: Author, count: int, rng: random.Random) -> None:
        self.account_id = account_id
        self.card_token = card_token
        self.admins = admins
        self.service = service
        self.count = max(count, 1)
        self.scale = min(10, max(1, _FULL_VOLUME_ROWS // self.count))
        self.rng = rng
        self.charge_ids = random.Random(f"charges-{account_id}")  # apart from rng: ids do not shift the history
        self.now = utc_now().replace(tzinfo=None)
        self.start = self.now - timedelta(days=HISTORY_DAYS)
        self.auto_recharge_since = self.now - timedelta(days=AUTO_RECHARGE_DAYS)
        self.prices = {p.process_type: p for p in settings.prices}
        self.unit_cents = {p.process_type: decimal_to_cents(p.unit_price) for p in settings.prices}
        self.tight_periods = self._tight_periods()
        self.balance = 0
        self.last_at = self.start
        self.charges: list[CardCharge] = []  # purchases and auto-recharges; invoices' come with them
        self.invoices: list[PaidInvoice] = []
        # (user id, type, process type, description) -> (the type's value, their search words)
        self._fixed: dict[tuple[int | None, TransactionType, str | None, str], tuple[str, str]] = {}

    def _tight_periods(self) -> set[str]:
        """A few whole months of the history before auto-recharge was turned on."""
        periods: list[str] = []
        month = _next_month(self.start)
        while _next_month(month) <= self.auto_recharge_since:
            periods.append(month_period(month))
            month = _next_month(month)
        return set(self.rng.sample(periods, min(_TIGHT_MONTHS, len(periods))))

    def _month(self, moment: datetime) -> _Month:
        period, end = month_period(moment), _next_month(moment)
        return _Month(period, end, end - timedelta(days=_TIGHT_DAYS) if period in self.tight_periods else None)

    # --- rows ---------------------------------------------------------------------------------

    def _row(self, at: datetime, kind: TransactionType, amount: int, user: Author | None, description: str,
             process: ProcessTypePrice | None = None, quantity: int | None = None,
             reference: str | None = None, reference_words: str | None = None) -> LedgerRow:
        """The next row (``reference_words``: the reference's search words, when known already)."""
        self.balance += amount
        self.last_at = at
        process_type = process.process_type if process else None
        user_id = user.id if user else None
        key = (user_id, kind, process_type, description)
        fixed = self._fixed.get(key)
        if fixed is None:
            fixed = self._fixed[key] = (kind.value, " ".join(search_words(
                user.name if user else None, user.email if user else None, kind.value, process_type,
                process.label if process else None, description)))
        kind_value, words = fixed
        if reference is not None:
            reference_words = reference_words or " ".join(search_words(reference))
            words = f"{words} {reference_words}" if reference_words else words
        return LedgerRow(self.account_id, at.isoformat(" ", "microseconds"), kind_value, process_type,
                         user_id, quantity, amount, self.balance, description, reference, words)

    def _charge_id(self) -> str:
        # An id in the test gateway's own shape; the charge itself is recorded with the others
        # in one bulk insert (record_card_charges), as the gateway would have kept it.
        return f"ch_test_{self.charge_ids.getrandbits(96):024x}"

    def _charge(self, kind: TransactionType, at: datetime, amount: int, key: str, user: Author | None) -> str:
        charge_id = self._charge_id()
        self.charges.append(CardCharge(kind, _aware(at), amount, key, charge_id, user.id if user else None))
        return charge_id

    def _purchase(self, at: datetime, n: int, amount: int) -> LedgerRow:
        admin = self.rng.choice(self.admins)
        charge_id = self._charge(TransactionType.purchase, at, amount,
                                 f"purchase:{self.account_id}:demo-{n}", admin)
        return self._row(at, TransactionType.purchase, amount, admin,
                         f"Purchase of {format_money(cents_to_decimal(amount))} credits", reference=charge_id)

    def _auto_recharge(self, at: datetime, n: int) -> LedgerRow:
        amount = AUTO_RECHARGE_TO_CENTS - self.balance
        charge_id = self._charge(TransactionType.auto_recharge, at, amount,
                                 f"auto-recharge:{self.account_id}:demo-{n}", None)
        return self._row(at, TransactionType.auto_recharge, amount, None, AUTO_RECHARGE_DESCRIPTION,
                         reference=charge_id)

    def _invoice_payment(self, at: datetime, month: _Month) -> LedgerRow:
        """Close ``month`` (it ended below zero) as the month close does: invoice, charge, payment."""
        amount = -self.balance
        lines = [InvoiceLineValues(process_type=process_type, description=self.prices[process_type].label,
                                   quantity=units, amount_cents=used)
                 for process_type, (units, used) in sorted(month.postpaid.items())]
        rest = amount - sum(line["amount_cents"] for line in lines)
        if rest:
            lines.append(InvoiceLineValues(process_type=None, quantity=1, amount_cents=rest,
                                           description="Prepaid credits applied" if rest < 0
                                           else "Unpaid balance from earlier months"))
        charge_id = self._charge_id()
        self.invoices.append(PaidInvoice(month.period, amount, lines, _aware(at), charge_id))
        return self._row(at, TransactionType.invoice_payment, amount, None,
                         f"Payment of the {month.period} transcription invoice", reference=charge_id)

    def _usage(self, at: datetime, process: ProcessTypePrice, quantity: int, month: _Month) -> LedgerRow:
        amount = quantity * self.unit_cents[process.process_type]
        if process.billing is BillingMode.invoice:
            used = month.postpaid.setdefault(process.process_type, [0, 0])
            used[0] += quantity
            used[1] += amount
        user = self.service if self.rng.random() < 0.6 else self.rng.choice(self.admins)
        campaign, campaign_words = self.rng.choice(_CAMPAIGNS)
        return self._row(at, TransactionType.usage, -amount, user, f"{process.label} × {quantity}", process,
                         quantity, campaign, campaign_words)

    def rows(self) -> Iterator[LedgerRow]:
        rng = self.rng
        step = (self.now - timedelta(minutes=5) - self.start) / self.count
        recharge_delay = min(timedelta(seconds=2), step / 20)
        every_process = list(self.prices.values())
        postpaid = [p for p in every_process if p.billing is BillingMode.invoice]
        yield self._purchase(self.start, 0, 100_000)
        month = self._month(self.start)
        n = 1
        while n < self.count:
            # Each row has a slot of its own in time: ids follow time, as the ledger requires.
            at = self.start + step * (n + 0.9 * rng.random())
            auto_recharge = at >= self.auto_recharge_since
            if at >= month.end:
                closed, month = month, self._month(at)
                if self.balance < 0:
                    yield self._invoice_payment(at, closed)
                    n += 1
                    continue
            tight = month.tight_from is not None and at >= month.tight_from
            roll = rng.random()
            if not auto_recharge and not tight and self.balance < 10_000 * self.scale:
                # Top-ups last a few weeks; a bigger one would outlive the months of auto-recharge.
                row = self._purchase(at, n, rng.choice((25_000, 50_000, 100_000)) * min(self.scale, 2))
            elif roll < 0.965:
                process = rng.choice(postpaid if tight else every_process)
                quantity = rng.choice(_UNITS) * self.scale
                if tight and self.balance >= 0:
                    # The big transcription job that took the balance past zero.
                    quantity += self.balance // self.unit_cents[process.process_type]
                cost = quantity * self.unit_cents[process.process_type]
                if process.billing is BillingMode.prepaid and cost > self.balance:
                    process = postpaid[0]  # prepaid usage is refused without the credits
                    quantity = rng.choice(_UNITS) * self.scale
                if auto_recharge and n == self.count - 1:
                    # The last row cannot be a crossing: its recharge would have no room.
                    quantity = min(quantity, max(0, self.balance - AUTO_RECHARGE_THRESHOLD_CENTS)
                                   // self.unit_cents[process.process_type])
                row = self._usage(at, process, quantity, month) if quantity else self._purchase(at, n, 50_000)
            elif roll < 0.97 and not tight:
                row = self._purchase(at, n, rng.choice((25_000, 50_000, 100_000)))
            elif roll < 0.985:
                row = self._row(at, TransactionType.refund, rng.choice((125, 350, 1_000)), None,
                                "Refund of a failed postcard batch", reference=f"refund-{n}")
            else:
                row = self._row(at, TransactionType.adjustment, rng.choice((500, 2_000)), None,
                                "Goodwill adjustment by Lead Liaison support")
            yield row
            n += 1
            if auto_recharge and row.amount_cents < 0 and self.balance < AUTO_RECHARGE_THRESHOLD_CENTS:
                yield self._auto_recharge(at + recharge_delay, n)
                n += 1


def write_history(database: Database, settings: Settings, account_id: int, card_token: str, card_last4: str,
                  admins: list[Author], service: Author, count: int, rng: random.Random,
                  progress: Callable[[int], None] | None = None) -> list[CardCharge]:
    """Insert Demo Co.'s history, its paid invoices and its per-day totals in one transaction;
    return the card charges.

    A large load sets the ledger's indexes aside and builds them once at the end.
    """
    table = table_of(LedgerTransaction)
    history = DemoCoHistory(settings, account_id, card_token, admins, service, count, rng)
    with database.write() as session:
        connection = session.connection()
        with bulk.ledger_indexes_rebuilt(connection) if count >= _REBUILD_INDEXES_FROM else nullcontext():
            bulk.insert_rows(connection, table, LEDGER_COLUMNS, history.rows(), progress, _BATCH)
            _write_daily_totals(connection, account_id)
        invoice_charges = _write_invoices(connection, account_id, card_last4, history.invoices)
        account = session.get_one(Account, account_id)
        account.balance_cents = history.balance
        account.last_transaction_at = _aware(history.last_at)
    return history.charges + invoice_charges


def _write_invoices(connection: Connection, account_id: int, card_last4: str,
                    invoices: list[PaidInvoice]) -> list[CardCharge]:
    """The paid invoices, each naming its charge and its ``invoice_payment`` row; return their charges."""
    T = LedgerTransaction
    payment_ids = dict(connection.execute(select(T.reference, T.id).where(
        T.account_id == account_id, T.transaction_type == TransactionType.invoice_payment.value)).all())
    charges: list[CardCharge] = []
    for invoice in invoices:
        key = connection.execute(insert(Invoice).values(
            account_id=account_id, period=invoice.period, amount_cents=invoice.amount_cents,
            status=InvoiceStatus.paid.value, card_last4=card_last4, gateway_charge_id=invoice.charge_id,
            transaction_id=payment_ids[invoice.charge_id], created_at=invoice.at,
            paid_at=invoice.at)).inserted_primary_key
        assert key is not None  # a single-row insert
        invoice_id: int = key[0]
        connection.execute(insert(InvoiceLine), [{**line, "invoice_id": invoice_id} for line in invoice.lines])
        charges.append(CardCharge(TransactionType.invoice_payment, invoice.at, invoice.amount_cents,
                                  f"invoice:{invoice_id}", invoice.charge_id, None))
    return charges


def _write_daily_totals(connection: Connection, account_id: int) -> None:
    """The account's per-day totals and usage rollup (see ``ledger.DailyTotals``), summed in the database."""
    T = LedgerTransaction
    day = func.date(T.created_at) if connection.dialect.name == "sqlite" else cast(T.created_at, Date)
    keys = (day, T.transaction_type, func.coalesce(T.process_type, ""), func.coalesce(T.user_id, 0))
    connection.execute(insert(DailyTotal).from_select(
        ["account_id", "day", "transaction_type", "process_type", "user_id", "count", "added_cents", "used_cents",
         "quantity"],
        select(T.account_id, *keys, func.count(),
               func.sum(case((T.amount_cents > 0, T.amount_cents), else_=0)),
               func.sum(case((T.amount_cents < 0, -T.amount_cents), else_=0)),
               func.coalesce(func.sum(T.quantity), 0))
        .where(T.account_id == account_id).group_by(T.account_id, *keys)))
    # The usage chart's rollup is those totals without the user, summed like migration 0007 does.
    D = DailyTotal
    connection.execute(insert(DailyUsageTotal).from_select(
        ["account_id", "day", "process_type", "used_cents", "quantity"],
        select(D.account_id, D.day, D.process_type, func.sum(D.used_cents), func.sum(D.quantity))
        .where(D.account_id == account_id, D.transaction_type == TransactionType.usage.value)
        .group_by(D.account_id, D.day, D.process_type)
        .order_by(D.account_id, D.day, D.process_type)))
