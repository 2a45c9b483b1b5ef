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

Rows are written in bulk with the per-day totals computed in memory; a million rows take about a
minute on SQLite.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TypedDict

from sqlalchemy import select, update
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
from credits_tui.backend.db import search_index
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import (
    Account,
    Invoice,
    InvoiceLine,
    LedgerTransaction,
    table_of,
)
from credits_tui.backend.services.accounts import month_period, next_month_start
from credits_tui.backend.services.ledger import DailyTotals, search_words, utc_now

_BATCH = 20_000
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


class LedgerValues(TypedDict):
    """The column values of one generated ledger row, as inserted in bulk."""

    account_id: int
    created_at: datetime
    transaction_type: str
    process_type: str | None
    user_id: int | None
    quantity: int | None
    amount_cents: int
    balance_after_cents: int
    description: str
    reference: str | None
    search_text: str


class InvoiceLineValues(TypedDict):
    process_type: str | None
    description: str
    quantity: int
    amount_cents: int


@dataclass
class _Month:
    """The post-paid usage of the month being written: what its invoice's lines say."""

    period: str
    postpaid: dict[str, list[int]] = field(default_factory=dict)  # process type -> [units, cents used]


InvoiceWriter = Callable[[str, int, list[InvoiceLineValues], datetime], int]


class DemoCoHistory:
    """The rows of Demo Co.'s ledger, oldest first, and the card charges behind them."""

    def __init__(self, settings: Settings, account_id: int, card_token: str, admins: list[Author],
                 service: Author, count: int, rng: random.Random, write_invoice: InvoiceWriter) -> None:
        self.account_id = account_id
        self.card_token = card_token
        self.admins = admins
        self.service = service
        self.count = max(count, 1)
        self.scale = min(10, max(1, _FULL_VOLUME_ROWS // self.count))
        self.rng = rng
        self.charge_ids = random.Random(f"charges-{account_id}")  # apart from rng: ids do not shift the history
        self.write_invoice = write_invoice
        self.now = utc_now()
        self.start = self.now - timedelta(days=HISTORY_DAYS)
        self.auto_recharge_since = self.now - timedelta(days=AUTO_RECHARGE_DAYS)
        self.prices = {p.process_type: p for p in settings.prices}
        self.unit_cents = {p.process_type: decimal_to_cents(p.unit_price) for p in settings.prices}
        self.tight_periods = self._tight_periods()
        self.balance = 0
        self.charges: list[CardCharge] = []
        self.invoices: list[tuple[int, str]] = []  # (invoice id, charge id)

    def _tight_periods(self) -> set[str]:
        """A few whole months of the history before auto-recharge was turned on."""
        periods: list[str] = []
        month = next_month_start(self.start)
        while next_month_start(month) <= self.auto_recharge_since:
            periods.append(month_period(month))
            month = next_month_start(month)
        return set(self.rng.sample(periods, min(_TIGHT_MONTHS, len(periods))))

    # --- rows ---------------------------------------------------------------------------------

    @staticmethod
    @lru_cache(maxsize=4096)
    def _fixed_words(user: Author | None, kind: TransactionType, process_type: str | None, label: str | None,
                     description: str) -> str:
        return " ".join(search_words(user.name if user else None, user.email if user else None, kind.value,
                                     process_type, label, description))

    def _row(self, at: datetime, kind: TransactionType, amount: int, user: Author | None, description: str,
             process: ProcessTypePrice | None = None, quantity: int | None = None,
             reference: str | None = None) -> LedgerValues:
        self.balance += amount
        words = self._fixed_words(user, kind, process.process_type if process else None,
                                  process.label if process else None, description)
        return LedgerValues(account_id=self.account_id, created_at=at, transaction_type=kind.value,
                    process_type=process.process_type if process else None, user_id=user.id if user else None,
                    quantity=quantity, amount_cents=amount, balance_after_cents=self.balance,
                    description=description, reference=reference,
                    search_text=" ".join([words, *search_words(reference)]))

    def _charge(self, kind: TransactionType, at: datetime, amount: int, key: str, user: Author | None) -> str:
        # An id in the test gateway's own shape; the charge itself is recorded with the others
        # in one bulk insert (record_card_charges), as the gateway would have kept it.
        charge_id = f"ch_test_{self.charge_ids.getrandbits(96):024x}"
        self.charges.append(CardCharge(kind, at, amount, key, charge_id, user.id if user else None))
        return charge_id

    def _purchase(self, at: datetime, n: int, amount: int) -> LedgerValues:
        admin = self.rng.choice(self.admins)
        charge_id = self._charge(TransactionType.purchase, at, amount,
                                 f"purchase:{self.account_id}:demo-{n}", admin)
        return self._row(at, TransactionType.purchase, amount, admin,
                         f"Purchase of {format_money(cents_to_decimal(amount))} credits", reference=charge_id)

    def _auto_recharge(self, at: datetime, n: int) -> LedgerValues:
        amount = AUTO_RECHARGE_TO_CENTS - self.balance
        charge_id = self._charge(TransactionType.auto_recharge, at, amount,
                                 f"auto-recharge:{self.account_id}:demo-{n}", None)
        return self._row(at, TransactionType.auto_recharge, amount, None, AUTO_RECHARGE_DESCRIPTION,
                         reference=charge_id)

    def _invoice_payment(self, at: datetime, month: _Month) -> LedgerValues:
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
        invoice_id = self.write_invoice(month.period, amount, lines, at)
        charge_id = self._charge(TransactionType.invoice_payment, at, amount, f"invoice:{invoice_id}", None)
        self.invoices.append((invoice_id, charge_id))
        return self._row(at, TransactionType.invoice_payment, amount, None,
                         f"Payment of the {month.period} transcription invoice", reference=charge_id)

    def _usage(self, at: datetime, process: ProcessTypePrice, quantity: int, month: _Month) -> LedgerValues:
        amount = quantity * self.unit_cents[process.process_type]
        if process.billing is BillingMode.invoice:
            used = month.postpaid.setdefault(process.process_type, [0, 0])
            used[0] += quantity
            used[1] += amount
        user = self.service if self.rng.random() < 0.6 else self.rng.choice(self.admins)
        return self._row(at, TransactionType.usage, -amount, user, f"{process.label} × {quantity}", process,
                         quantity, f"campaign-{self.rng.randint(1, 60)}")

    def rows(self) -> Iterator[LedgerValues]:
        rng = self.rng
        step = (self.now - timedelta(minutes=5) - self.start) / self.count
        recharge_delay = min(timedelta(seconds=2), step / 20)
        every_process = list(self.prices.values())
        postpaid = [p for p in every_process if p.billing is BillingMode.invoice]
        yield self._purchase(self.start, 0, 100_000)
        month = _Month(month_period(self.start))
        n = 1
        while n < self.count:
            # Each row has a slot of its own in time: ids follow time, as the ledger requires.
            at = self.start + step * (n + 0.9 * rng.random())
            period = month_period(at)
            auto_recharge = at >= self.auto_recharge_since
            if period != month.period:
                closed, month = month, _Month(period)
                if self.balance < 0:
                    yield self._invoice_payment(at, closed)
                    n += 1
                    continue
            tight = period in self.tight_periods and (at + timedelta(days=_TIGHT_DAYS)).month != at.month
            roll = rng.random()
            if not auto_recharge and not tight and self.balance < 10_000 * self.scale:
                # Top-ups last a few weeks; a bigger one would outlive the months of auto-recharge.
                row = self._purchase(at, n, rng.choice((25_000, 50_000, 100_000)) * min(self.scale, 2))
            elif roll < 0.965:
                process = rng.choice(postpaid if tight else every_process)
                quantity = rng.randint(1, 40) * self.scale
                if tight and self.balance >= 0:
                    # The big transcription job that took the balance past zero.
                    quantity += self.balance // self.unit_cents[process.process_type]
                cost = quantity * self.unit_cents[process.process_type]
                if process.billing is BillingMode.prepaid and cost > self.balance:
                    process = postpaid[0]  # prepaid usage is refused without the credits
                    quantity = rng.randint(1, 40) * self.scale
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
            if auto_recharge and row["amount_cents"] < 0 and self.balance < AUTO_RECHARGE_THRESHOLD_CENTS:
                yield self._auto_recharge(at + recharge_delay, n)
                n += 1


def write_history(database: Database, settings: Settings, account_id: int, card_token: str, card_last4: str,
                  admins: list[Author], service: Author, count: int, rng: random.Random,
                  progress: Callable[[int], None] | None = None) -> list[CardCharge]:
    """Insert Demo Co.'s history and its paid invoices in one transaction; return the card charges.

    A large load drops the ledger's indexes and rebuilds them once at the end.
    """
    table = table_of(LedgerTransaction)
    totals = DailyTotals()
    batch: list[LedgerValues] = []
    last: LedgerValues | None = None
    with database.write() as session:
        connection = session.connection()

        def write_invoice(period: str, amount: int, lines: list[InvoiceLineValues], at: datetime) -> int:
            key = connection.execute(table_of(Invoice).insert().values(
                account_id=account_id, period=period, amount_cents=amount, status=InvoiceStatus.paid.value,
                card_last4=card_last4, created_at=at, paid_at=at)).inserted_primary_key
            assert key is not None  # a single-row insert
            invoice_id: int = key[0]
            connection.execute(table_of(InvoiceLine).insert(), [{**line, "invoice_id": invoice_id} for line in lines])
            return invoice_id

        bulk = count >= _REBUILD_INDEXES_FROM
        if bulk:
            for index in table.indexes:
                index.drop(connection)
            search_index.suspend(connection)
        history = DemoCoHistory(settings, account_id, card_token, admins, service, count, rng, write_invoice)
        for values in history.rows():
            batch.append(values)
            totals.add(account_id, values["created_at"], values["transaction_type"], values["process_type"],
                       values["user_id"], values["amount_cents"], values["quantity"])
            if len(batch) >= _BATCH:
                connection.execute(table.insert(), batch)
                last = batch[-1]
                if progress:
                    progress(len(batch))  # rows just written, for a progress bar
                batch.clear()
        if batch:
            connection.execute(table.insert(), batch)
            last = batch[-1]
        if bulk:
            for index in table.indexes:
                index.create(connection)
            search_index.rebuild(connection)
        _link_invoices(connection, account_id, history.invoices)
        assert last is not None
        account = session.get_one(Account, account_id)
        account.balance_cents = last["balance_after_cents"]
        account.last_transaction_at = last["created_at"]
        totals.write(session)
    return history.charges


def _link_invoices(connection: Connection, account_id: int, invoices: list[tuple[int, str]]) -> None:
    """Each paid invoice names its charge and its ``invoice_payment`` row (known only once inserted)."""
    T = LedgerTransaction
    row_ids = dict(connection.execute(select(T.reference, T.id).where(
        T.account_id == account_id, T.transaction_type == TransactionType.invoice_payment.value)).all())
    for invoice_id, charge_id in invoices:
        connection.execute(update(Invoice).where(Invoice.id == invoice_id).values(
            gateway_charge_id=charge_id, transaction_id=row_ids[charge_id]))
