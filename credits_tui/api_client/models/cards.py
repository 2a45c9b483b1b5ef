"""The card on file: adding one, editing it, and what the server shows of it."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from credits_tui.api_client.card_rules import CARD_NUMBER_SEPARATORS, card_number_problem
from credits_tui.api_client.models.wire import ResponseModel, WireModel


class BillingAddress(WireModel):
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$",
                         description="ISO 3166-1 alpha-2 country code")


class CardInput(WireModel):
    """A new card. The number and CVC go to the gateway and are never stored."""

    cardholder_name: str = Field(min_length=1, max_length=200)
    number: str = Field(max_length=40, description="12 to 19 digits; spaces and dashes allowed")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    cvc: str = Field(min_length=3, max_length=4, pattern=r"^[0-9]{3,4}$")
    billing_address: BillingAddress

    # A refused number or CVC must not be echoed in pydantic's error text either.
    model_config = ConfigDict(hide_input_in_errors=True)

    @field_validator("number")
    @classmethod
    def _a_card_number(cls, number: str) -> str:
        """The digits of a number that passes the card rules (length, Luhn), or the reason it does not."""
        if problem := card_number_problem(number):
            raise PydanticCustomError("invalid_card_number", problem)
        return CARD_NUMBER_SEPARATORS.sub("", number)

    def __repr__(self) -> str:  # never let a full number or CVC reach a log line
        return f"CardInput(cardholder_name={self.cardholder_name!r}, number='****', cvc='***')"

    __str__ = __repr__


class CardPatch(WireModel):
    """Edit the card on file without re-entering its number."""

    cardholder_name: str | None = Field(default=None, min_length=1, max_length=200)
    exp_month: int | None = Field(default=None, ge=1, le=12)
    exp_year: int | None = Field(default=None, ge=2000, le=2100)
    billing_address: BillingAddress | None = None


class CardSummary(ResponseModel):
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    cardholder_name: str
    billing_address: BillingAddress
    updated_at: datetime
