"""How money and times read for a person (the CLI and the app share these)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text


_GROUPED = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")
_RELATIVE = re.compile(r"^\s*(\d{1,5})\s*([dhw])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "h": "hours", "w": "weeks"}


def credits_text(amount: Decimal, *, signed: bool = False) -> str:
    """``7,293.70``; with ``signed``, ``+25.00`` / ``-3.25``."""
    text = f"{amount:,.2f}"
    return f"+{text}" if signed and amount > 0 else text


def plain_amount(text: str) -> str:
    """An amount as a person types it, as the wire wants it: ``1,000.50`` → ``1000.50``, ``25.`` → ``25``.

    Commas are taken only as thousands separators (``1,0`` is refused with a ValueError): the
    same amount as ``credits_text`` prints must be accepted back, and nothing else guessed at.
    """
    plain = text.strip()
    if "," in plain:
        if not _GROUPED.match(plain):
            raise ValueError("Put commas only between groups of three digits, as in 1,000.50.")
        plain = plain.replace(",", "")
    return plain.removesuffix(".") if plain.count(".") == 1 and plain[:-1].isdigit() else plain


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """A point in time: ``30d``, ``12h``, ``2w`` before now, or ISO 8601 (UTC if no zone)."""
    now = now or datetime.now(timezone.utc)
    if match := _RELATIVE.match(text):
        return now - timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time: use 30d, 12h, 2w, or a date like 2026-10-01") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


# --- names a person reads for cards and transaction types (every screen says them one way) ---

_BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover"}


def brand_name(brand: str) -> str:
    """``Visa``, ``American Express``; an unknown brand title-cased, none ``Card``."""
    return _BRANDS.get(brand.lower(), brand.title() or "Card")


def card_label(brand: str, last4: str) -> str:
    """``Visa ending 4242``: how the app names a card, never more of its number."""
    return f"{brand_name(brand)} ending {last4}"


def type_label(transaction_type: str) -> str:
    """``Purchase``, ``Auto recharge``: a transaction type as a label beside ``Postcard``."""
    return transaction_type.replace("_", " ").capitalize()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: str | None) -> str:
    """Text for a CSV cell as a spreadsheet shows it, never run as a formula (CSV injection)."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def amount_text(amount: Decimal, *, signed: bool = True, style: str = "") -> Text:
    """An amount for the screen: ``+25.00`` green, ``-3.25`` red, zero neither (nothing moved).

    ``style`` is added (``bold``, ``justify`` is left to the caller); without ``signed`` the
    figure is plain, for balances.
    """
    colour = ("green" if amount > 0 else "red" if amount < 0 else "") if signed else ""
    from rich.text import Text  # here, not at the top: the CLI's one-shot commands never load rich

    return Text(credits_text(amount, signed=signed), style=f"{style} {colour}".strip())
