"""What every wire model shares: money and times as the wire writes them, the two base
classes, and the envelope every refused request answers with.

Money is a ``Decimal`` in Python and a string with exactly two decimal places on the wire
(``"25.00"``, ``"-3.25"``). Floats are refused on the way in: a float has already lost the
exactness a money amount needs.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

CENT = Decimal("0.01")
MONEY_PATTERN = r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$"
_MONEY_RE = re.compile(MONEY_PATTERN)
_TOO_PRECISE_RE = re.compile(r"^-?[0-9]{1,13}\.[0-9]{3,}$")


def parse_money(value: Any) -> Decimal:
    """Read a money amount from the wire or from a person, exactly, or refuse it.

    Accepted: a decimal string with at most two places (``"25"``, ``"25.5"``, ``"-3.25"``),
    an ``int``, or a finite ``Decimal`` with at most two places. Refused, each with its own
    error code: floats, exponent notation, NaN, infinities, a third decimal place.
    """
    if isinstance(value, bool):
        raise PydanticCustomError("invalid_amount", "Enter the amount as a number such as 25.00.")
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, float):
        raise PydanticCustomError(
            "invalid_amount", 'Send the amount as a decimal string such as "25.00", not a float.'
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PydanticCustomError("invalid_amount", "The amount must be a finite number.")
        value = format(value, "f")
    if not isinstance(value, str):
        raise PydanticCustomError("invalid_amount", "Enter the amount as a number such as 25.00.")
    text = value.strip()
    if _TOO_PRECISE_RE.match(text):
        raise PydanticCustomError(
            "amount_precision", "Amounts go in steps of 0.01: use at most two decimal places."
        )
    if not _MONEY_RE.match(text):
        raise PydanticCustomError(
            "invalid_amount", "Enter the amount as a plain number such as 25.00."
        )
    try:
        return Decimal(text).quantize(CENT)
    except InvalidOperation as error:  # pragma: no cover - the pattern already excludes this
        raise PydanticCustomError("invalid_amount", "Enter the amount as a plain number such as 25.00.") from error


def format_money(value: Decimal) -> str:
    return f"{value.quantize(CENT):.2f}"


def cents_to_decimal(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def decimal_to_cents(value: Decimal) -> int:
    return int((value * 100).to_integral_exact())


Money = Annotated[
    Decimal,
    BeforeValidator(parse_money),
    PlainSerializer(format_money, return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["25.00"]}),
]


def _iso_8601_only(value: Any) -> Any:
    """Refuse numbers as times: "until=6" is a typo, not 6 seconds after 1970."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        raise PydanticCustomError("invalid_datetime",
                                  "Give a date or time in ISO 8601, such as 2026-10-01 or 2026-10-01T09:30:00Z.")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601_only)]
"""A point in time given as ISO 8601 (a date alone means its midnight); without a zone, UTC."""


class WireModel(BaseModel):
    """Base of every wire model: unknown fields are refused, strings are trimmed and may not
    hold a NUL character (PostgreSQL cannot store one; no name, address or email has one)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    @field_validator("*")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError("string_has_nul", "Text may not contain a NUL character")
        return value


class ResponseModel(BaseModel):
    """Base of responses: tolerant of fields a newer server adds.

    Built on first use, not at import: a quick CLI command reads only one or two of them.
    """

    model_config = ConfigDict(extra="ignore", defer_build=True)


class ErrorDetail(ResponseModel):
    code: str
    message: str
    field: str | None = None


class ErrorEnvelope(ResponseModel):
    error: ErrorDetail
