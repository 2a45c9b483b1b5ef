"""Card-number rules shared by the wire model (so the server and the client refuse the same
numbers) and the form that checks as you type."""

from __future__ import annotations

import re

CARD_NUMBER_SEPARATORS = re.compile(r"[ -]")
_ASCII_DIGITS = re.compile(r"[0-9]*")  # str.isdigit() would also take "²" and other scripts' digits


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a string of digits (catches most typos in a card number)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_number_problem(number: str) -> str | None:
    """What is wrong with a card number as typed (spaces and dashes allowed), for a person to
    read, or None. The message never repeats the number."""
    digits = CARD_NUMBER_SEPARATORS.sub("", number.strip())
    if not _ASCII_DIGITS.fullmatch(digits):
        return "The card number may only contain digits, spaces and dashes."
    if not 12 <= len(digits) <= 19:
        return f"A card number has 12 to 19 digits; this one has {len(digits)}."
    if not luhn_ok(digits):
        return "This card number is not valid: check it for typos."
    return None
