"""Card-number rules shared by the form that checks as you type and the server that decides."""

from __future__ import annotations

import re

CARD_NUMBER_SEPARATORS = re.compile(r"[ -]")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a string of digits (catches most typos in a card number)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0
