"""The payment gateway interface, the built-in test gateway, and reconciliation.

The backend hands a card to the gateway once and keeps only the gateway's token. The test
gateway follows the public test-card numbers (DESIGN.md §2, §7). Like a real processor it
keeps its own record of every charge (``gateway_charges``), committed before the charge is
reported, and it is idempotent: a charge retried with the same idempotency key returns the
first charge and never charges again. ``reconcile`` holds that record against the ledger.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Insert, and_, bindparam, func, select
from sqlalchemy.orm import Session

from credits_tui.api_client.models import TransactionType, cents_to_decimal, format_money
from credits_tui.backend.db.engine import Database, insert_unless_taken
from credits_tui.backend.db.schema import GatewayCharge, LedgerTransaction, table_of
from credits_tui.backend.services.ledger import utc_now


@dataclass(frozen=True)
class TokenizedCard:
    token: str
    brand: str
    last4: str


@dataclass(frozen=True)
class Charge:
    id: str
    amount_cents: int


class ChargeDeclined(Exception):
    """The issuer refused; ``code`` says why (card_declined, insufficient_funds, expired_card),
    ``message`` is for the cardholder."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class GatewayUnavailable(Exception):
    """The processor failed to answer; nothing was charged."""


class PaymentGateway(Protocol):
    def tokenize(self, number: str, exp_month: int, exp_year: int, cvc: str) -> TokenizedCard: ...

    def verify(self, token: str) -> None:
        """A zero authorization: raises ChargeDeclined or GatewayUnavailable if the card would fail."""

    def charge(self, token: str, amount_cents: int, *, idempotency_key: str) -> Charge: ...


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if 51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    if number.startswith("6011") or number.startswith("65"):
        return "discover"
    return "card"


# The public test numbers that fail, and how. The outcome travels in the card's token.
_OUTCOMES = {
    "4000000000000002": "declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000000119": "processing_error",
    "4000000000000341": "declines_charges",  # attaches fine, then declines every charge
}
_REFUSALS = {  # outcome: (code, message for the cardholder)
    "declined": ("card_declined", "Your card was declined."),
    "insufficient_funds": ("insufficient_funds", "Your card has insufficient funds."),
    "expired_card": ("expired_card", "Your card has expired."),
}


def _outcome(token: str) -> str:
    return token.removeprefix("tok_test_").rsplit("_", 1)[0]


def _fail_like(outcome: str) -> None:
    if outcome == "processing_error":
        raise GatewayUnavailable("the test processor reported a processing error")
    if outcome in _REFUSALS:
        raise ChargeDeclined(*_REFUSALS[outcome])


_charges = table_of(GatewayCharge)
_FIRST_CHARGE = select(_charges.c.id, _charges.c.amount_cents).where(_charges.c.idempotency_key == bindparam("key"))


@functools.cache
def _record_charge(dialect: str) -> Insert:
    """Built once per dialect: a statement made per call costs more to build and to key for
    the compiled cache than it does to run."""
    return insert_unless_taken(dialect, _charges, "idempotency_key").returning(_charges.c.id, _charges.c.amount_cents)


class TestGateway:
    """Succeeds for every valid number except the public failing test numbers; records charges
    in ``database`` (the backend's own, standing in for the processor's)."""

    __test__ = False  # not a pytest test class

    def __init__(self, database: Database) -> None:
        self.database = database

    def tokenize(self, number: str, exp_month: int, exp_year: int, cvc: str) -> TokenizedCard:
        token = f"tok_test_{_OUTCOMES.get(number, 'ok')}_{secrets.token_hex(8)}"
        return TokenizedCard(token=token, brand=card_brand(number), last4=number[-4:])

    def verify(self, token: str) -> None:
        _fail_like(_outcome(token))

    def charge(self, token: str, amount_cents: int, *, idempotency_key: str) -> Charge:
        outcome = _outcome(token)
        _fail_like(outcome)
        if outcome == "declines_charges":
            raise ChargeDeclined(*_REFUSALS["declined"])
        # Committed before the charge is reported, but not fsynced (see Database.write): this
        # record stands in for the processor's, and a power cut can only lose it together with
        # the ledger row that would have recorded it (that row's durable commit fsyncs it
        # first), as if the card had not been charged.
        with self.database.write(durable=False) as session:
            # A retry with the same key (this one's, or a concurrent one's that commits first)
            # finds the first charge instead of making another.
            charge = session.execute(_record_charge(self.database.dialect), {
                "id": f"ch_test_{secrets.token_hex(12)}", "idempotency_key": idempotency_key,
                "amount_cents": amount_cents, "created_at": utc_now(),
            }).first() or session.execute(_FIRST_CHARGE, {"key": idempotency_key}).one()
        if charge.amount_cents != amount_cents:
            raise ValueError("an idempotency key was reused for a charge of another amount")
        return Charge(id=charge.id, amount_cents=charge.amount_cents)


def record_historical_charges(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Record the gateway charges behind ledger rows written without the gateway (demo history).

    ``rows`` are transaction values (``transaction_type``, ``amount_cents``, ``created_at``,
    ``reference``) as inserted into ``transactions``; rows of a charged type (purchase,
    auto_recharge, invoice_payment) get a charge whose id is their reference, which must be
    unique across the database. Returns how many charges were recorded.
    """
    charges = [
        dict(id=row["reference"], idempotency_key=f"historical:{row['reference']}",
             amount_cents=row["amount_cents"], created_at=row["created_at"])
        for row in rows if row["transaction_type"] in CHARGED_TYPES
    ]
    if any(not charge["id"] for charge in charges):
        raise ValueError("a charged transaction needs its charge id as its reference")
    if charges:
        session.execute(table_of(GatewayCharge).insert(), charges)
    return len(charges)


# --- reconciliation ---------------------------------------------------------------------

# The ledger rows that are paid by a card charge; each carries its charge id as its reference.
CHARGED_TYPES = (TransactionType.purchase.value, TransactionType.auto_recharge.value,
                 TransactionType.invoice_payment.value)


@dataclass(frozen=True)
class Mismatch:
    """One way the gateway's charges and the ledger disagree, said for an operator."""

    kind: str  # charge_without_transaction, charge_with_several_transactions, amount_differs,
    #            transaction_without_charge
    message: str


def reconcile(session: Session, since: datetime | None = None) -> list[Mismatch]:
    """Every gateway charge (made at or after ``since``) against the charged ledger rows.

    Agreement means each charge has exactly one purchase, auto_recharge or invoice_payment
    transaction of the same amount, and each such transaction (at or after ``since``) one
    charge. A counterpart outside the window still counts, so a window edge flags nothing.
    """
    charged = and_(LedgerTransaction.reference == GatewayCharge.id,
                   LedgerTransaction.transaction_type.in_(CHARGED_TYPES))
    charges = (
        select(GatewayCharge.id, GatewayCharge.amount_cents, GatewayCharge.created_at,
               GatewayCharge.idempotency_key, func.count(LedgerTransaction.id),
               func.min(LedgerTransaction.amount_cents), func.max(LedgerTransaction.amount_cents))
        .outerjoin(LedgerTransaction, charged)
        .group_by(GatewayCharge.id, GatewayCharge.amount_cents, GatewayCharge.created_at,
                  GatewayCharge.idempotency_key)
        .order_by(GatewayCharge.created_at, GatewayCharge.id)
    )
    orphans = (
        select(LedgerTransaction.id, LedgerTransaction.account_id, LedgerTransaction.transaction_type,
               LedgerTransaction.amount_cents, LedgerTransaction.created_at, LedgerTransaction.reference)
        .where(LedgerTransaction.transaction_type.in_(CHARGED_TYPES))
        .outerjoin(GatewayCharge, GatewayCharge.id == LedgerTransaction.reference)
        .where(GatewayCharge.id.is_(None))
        .order_by(LedgerTransaction.id)
    )
    if since is not None:
        charges = charges.where(GatewayCharge.created_at >= since)
        orphans = orphans.where(LedgerTransaction.created_at >= since)
    found: list[Mismatch] = []
    for charge_id, amount, at, key, count, low, high in session.execute(charges):
        said = f"charge {charge_id} of {_usd(amount)} at {at:%Y-%m-%d %H:%M:%S} UTC (key {key})"
        if count == 0:
            found.append(Mismatch("charge_without_transaction", f"{said} has no transaction"))
        elif count > 1:
            found.append(Mismatch("charge_with_several_transactions", f"{said} has {count} transactions"))
        elif low != amount or high != amount:
            found.append(Mismatch("amount_differs", f"{said} has a transaction of {_usd(low)}"))
    for row_id, account_id, kind, amount, at, reference in session.execute(orphans):
        found.append(Mismatch(
            "transaction_without_charge",
            f"transaction {row_id} (account {account_id}, {kind}, {_usd(amount)} at {at:%Y-%m-%d %H:%M:%S} UTC, "
            f"reference {reference or 'none'}) has no charge"))
    return found


def _usd(cents: int) -> str:
    return f"{format_money(cents_to_decimal(cents))} USD"
