"""Validation of a card someone typed, before it goes to the gateway."""

from __future__ import annotations

from datetime import datetime

from credits_tui.api_client.card_rules import CARD_NUMBER_SEPARATORS, luhn_ok
from credits_tui.backend.errors import Unprocessable


def clean_card_number(number: str) -> str:
    """Digits only, or a 422 that says what is wrong (never echoing the number back)."""
    digits = CARD_NUMBER_SEPARATORS.sub("", number)
    if not digits.isdigit() or not digits.isascii():
        raise Unprocessable("invalid_card_number", "The card number may only contain digits.", "number")
    if not 12 <= len(digits) <= 19:
        raise Unprocessable("invalid_card_number", "A card number has 12 to 19 digits.", "number")
    if not luhn_ok(digits):
        raise Unprocessable("invalid_card_number", "This card number is not valid: check it for typos.",
                            "number")
    return digits


def check_expiry(exp_month: int, exp_year: int, now: datetime) -> None:
    """A card is good through the last day of its expiry month."""
    if (exp_year, exp_month) < (now.year, now.month):
        raise Unprocessable("card_expired", "This card has expired: check the expiry month and year.",
                            "exp_year" if exp_year < now.year else "exp_month")
