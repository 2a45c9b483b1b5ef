"""How money and times read for a person (the CLI and the app share these)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

_RELATIVE = re.compile(r"^\s*(\d{1,5})\s*([dhw])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "h": "hours", "w": "weeks"}


def credits_text(amount: Decimal, *, signed: bool = False) -> str:
    """``7,293.70``; with ``signed``, ``+25.00`` / ``-3.25``."""
    text = f"{amount:,.2f}"
    return f"+{text}" if signed and amount > 0 else text


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
