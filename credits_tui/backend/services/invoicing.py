"""Month close: invoice each account's post-paid shortfall and charge it to the card on file.

For a closed month, an account whose balance at the end of the month was below zero gets
one invoice for the shortfall (one per account and month, whatever how often close runs).
Its lines are the month's post-paid usage per process type, plus the part the prepaid
balance covered, or the unpaid rest of an earlier month. A successful charge appends an
``invoice_payment`` that brings the balance back; a declined one leaves the invoice
``payment_failed``, and every later close tries it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Integer, func, select, type_coerce
from sqlalchemy.orm import Session

from credits_tui.api_client.models import (
    BillingMode,
    InvoiceStatus,
    NotificationKind,
    TransactionType,
    cents_to_decimal,
    format_money,
)
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database, lock_account
from credits_tui.backend.db.schema import Account, Invoice, InvoiceLine, LedgerTransaction
from credits_tui.backend.services import ledger, notifications
from credits_tui.backend.services.accounts import month_period, next_month_start
from credits_tui.backend.services.billing import card_on_file
from credits_tui.backend.services.payments import ChargeDeclined, GatewayUnavailable, PaymentGateway

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    match = _PERIOD.match(period)
    if not match:
        raise ValueError(f"a period is YYYY-MM, not {period!r}")
    start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=timezone.utc)
    return start, next_month_start(start)


def previous_period(now: datetime) -> str:
    year, month = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
    return f"{year:04d}-{month:02d}"


@dataclass(frozen=True)
class CloseResult:
    period: str
    account_id: int
    account_name: str
    amount_cents: int
    status: InvoiceStatus
    message: str


class InvoicingService:
    def __init__(self, database: Database, settings: Settings, gateway: PaymentGateway) -> None:
        self.db = database
        self.settings = settings
        self.gateway = gateway

    def close_month(self, period: str) -> list[CloseResult]:
        start, end = period_bounds(period)
        if end > ledger.utc_now():
            raise ValueError(f"{period} has not ended yet")
        with self.db.read() as session:
            account_ids = session.scalars(select(Account.id).order_by(Account.id)).all()
            # Invoices of earlier months whose charge failed are tried again on every close.
            unpaid = session.execute(select(Invoice.account_id, Invoice.period).where(
                Invoice.status == InvoiceStatus.payment_failed.value, Invoice.period < period,
            ).order_by(Invoice.period, Invoice.account_id)).all()
        results = [self._close_account(account_id, earlier, *period_bounds(earlier)) for account_id, earlier in unpaid]
        results += [self._close_account(account_id, period, start, end) for account_id in account_ids]
        return [r for r in results if r is not None]

    def _close_account(self, account_id: int, period: str, start: datetime, end: datetime) -> CloseResult | None:
        with self.db.write() as session:
            account = lock_account(session, account_id)
            invoice = session.scalar(select(Invoice).where(Invoice.account_id == account_id,
                                                           Invoice.period == period))
            if invoice is not None and invoice.status == InvoiceStatus.paid.value:
                return None
            if invoice is None:
                claimed = self._claimed_by_other_invoices(session, account_id, period, end)
                if claimed is None:
                    return None
                shortfall = -self._balance_at(session, account_id, end) - claimed
                if shortfall <= 0:
                    return None
                invoice = Invoice(account_id=account_id, period=period, amount_cents=shortfall,
                                  status=InvoiceStatus.payment_failed.value, created_at=ledger.utc_now())
                session.add(invoice)
                session.flush()
                session.add_all(self._lines(session, invoice, start, end))
            card = card_on_file(session, account_id)
            invoice_id, amount, name = invoice.id, invoice.amount_cents, account.name
            token, last4 = (card.gateway_token, card.last4) if card else (None, None)
        # The charge runs with no lock held; the gateway is idempotent on the invoice.
        failure = None
        charge_id = None
        if token is None:
            failure = "No card on file: add a card, and the next month close will charge it."
        else:
            try:
                charge_id = self.gateway.charge(token, amount, idempotency_key=f"invoice:{invoice_id}").id
            except ChargeDeclined as declined:
                failure = declined.message
            except GatewayUnavailable:
                failure = "The payment processor could not be reached; the next month close retries."
        with self.db.write() as session:
            account = lock_account(session, account_id)
            invoice = session.get_one(Invoice, invoice_id)
            invoice.card_last4 = last4
            due = notifications.usd(amount)
            if failure:
                invoice.status, invoice.failure_message = InvoiceStatus.payment_failed.value, failure
                notifications.notify(session, account, NotificationKind.invoice_failed,
                                     f"Payment of the {period} invoice failed",
                                     f"The {period} transcription invoice of {due} could not be charged: {failure}\n"
                                     "It is charged again at the next month close.")
                return CloseResult(period, account_id, name, amount, InvoiceStatus.payment_failed, failure)
            row = ledger.append(session, account, transaction_type=TransactionType.invoice_payment,
                                amount_cents=amount, description=f"Payment of the {period} transcription invoice",
                                reference=charge_id)
            invoice.status, invoice.failure_message = InvoiceStatus.paid.value, None
            invoice.gateway_charge_id, invoice.transaction_id, invoice.paid_at = charge_id, row.id, row.created_at
            notifications.notify(session, account, NotificationKind.invoice_paid, f"The {period} invoice is paid",
                                 f"The {period} transcription invoice of {due} was charged to the card ending "
                                 f"{last4} (charge {charge_id}).\n"
                                 f"The balance is now {notifications.credits(account.balance_cents)}.")
        return CloseResult(period, account_id, name, amount, InvoiceStatus.paid,
                           f"charged {format_money(cents_to_decimal(amount))} to the card ending {last4}")

    @staticmethod
    def _claimed_by_other_invoices(session: Session, account_id: int, period: str, end: datetime) -> int | None:
        """The part of the balance at ``end`` that other invoices already charge, so it is never charged twice.

        An earlier month's invoice claims its amount while it is unpaid (its own retry collects it) or was
        paid only after ``end``. None when a later month is already invoiced: that invoice took the whole
        balance of its month end, this month's included.
        """
        others = session.scalars(select(Invoice).where(Invoice.account_id == account_id,
                                                       Invoice.period != period)).all()
        if any(other.period > period for other in others):
            return None
        return sum(other.amount_cents for other in others
                   if other.status != InvoiceStatus.paid.value or other.paid_at is None or other.paid_at >= end)

    @staticmethod
    def _balance_at(session: Session, account_id: int, moment: datetime) -> int:
        last = session.scalar(
            select(LedgerTransaction.balance_after_cents)
            .where(LedgerTransaction.account_id == account_id, LedgerTransaction.created_at < moment)
            .order_by(LedgerTransaction.created_at.desc(), LedgerTransaction.id.desc()).limit(1))
        return int(last or 0)

    def _lines(self, session: Session, invoice: Invoice, start: datetime, end: datetime) -> list[InvoiceLine]:
        postpaid = {p.process_type: p for p in self.settings.prices if p.billing is BillingMode.invoice}
        T = LedgerTransaction
        usage = session.execute(
            # coalesce makes the quantity never NULL (SQLAlchemy types it as the column's int | None).
            select(T.process_type, type_coerce(func.coalesce(func.sum(T.quantity), 0), Integer),
                   func.sum(T.amount_cents))
            .where(T.account_id == invoice.account_id, T.transaction_type == TransactionType.usage.value,
                   T.process_type.in_(postpaid), T.created_at >= start, T.created_at < end)
            .group_by(T.process_type).order_by(T.process_type)
        ).all()
        lines = []
        for process_type, quantity, used in usage:
            assert process_type is not None  # the query keeps the post-paid types only
            lines.append(InvoiceLine(invoice_id=invoice.id, process_type=process_type,
                                     description=postpaid[process_type].label, quantity=int(quantity),
                                     amount_cents=-int(used)))
        rest = invoice.amount_cents - sum(line.amount_cents for line in lines)
        if rest:
            description = ("Prepaid credits applied" if rest < 0
                           else "Unpaid balance from earlier months")
            lines.append(InvoiceLine(invoice_id=invoice.id, process_type=None, description=description,
                                     quantity=1, amount_cents=rest))
        return lines


__all__ = ["CloseResult", "InvoicingService", "month_period", "period_bounds", "previous_period"]
