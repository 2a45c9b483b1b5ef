"""The payment gateway interface and the built-in test gateway.

The backend hands a card to the gateway once and keeps only the gateway's token. The test
gateway follows the public test-card numbers (DESIGN.md §2); it is deterministic and keeps
no state, so every worker process agrees on it and a retried charge with the same
idempotency key yields the same charge id (a retry never charges twice).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol


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
    """The issuer refused the charge; ``message`` is for the cardholder."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GatewayUnavailable(Exception):
    """The processor failed to answer; nothing was charged."""


class PaymentGateway(Protocol):
    def tokenize(self, number: str, exp_month: int, exp_year: int, cvc: str) -> TokenizedCard: ...

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


# Test numbers whose charges fail, and how.
_DECLINES = {
    "4000000000000002": ("declined", "Your card was declined."),
    "4000000000009995": ("insufficient_funds", "Your card has insufficient funds."),
    "4000000000000069": ("expired_card", "Your card has expired."),
    "4000000000000119": ("processing_error", ""),
}
_OUTCOME_MESSAGES = {outcome: message for outcome, message in _DECLINES.values()}


class TestGateway:
    """Succeeds for every valid number except the public decline test numbers."""

    __test__ = False  # not a pytest test class

    def tokenize(self, number: str, exp_month: int, exp_year: int, cvc: str) -> TokenizedCard:
        outcome = _DECLINES.get(number, ("ok", ""))[0]
        token = f"tok_test_{outcome}_{secrets.token_hex(8)}"
        return TokenizedCard(token=token, brand=card_brand(number), last4=number[-4:])

    def charge(self, token: str, amount_cents: int, *, idempotency_key: str) -> Charge:
        outcome = token.removeprefix("tok_test_").rsplit("_", 1)[0]
        if outcome == "processing_error":
            raise GatewayUnavailable("the test processor reported a processing error")
        if outcome in _OUTCOME_MESSAGES:
            raise ChargeDeclined(_OUTCOME_MESSAGES[outcome])
        digest = hashlib.sha256(f"{token}:{idempotency_key}".encode()).hexdigest()[:24]
        return Charge(id=f"ch_test_{digest}", amount_cents=amount_cents)
