"""The purchase amount, checked as a person types it (min 1.00, steps of 0.01, a maximum).

The rules are the client's own (``parse_purchase_amount``: what the server would refuse as a
request) plus a maximum; thousands separators and a trailing point are a person's way of
writing an amount (``formatting.plain_amount``). The field takes only the characters of an
amount; any other printable key but ``?`` (the help, from anywhere) is refused in place, with a
bell and a word on why. It does not go on to the screen: on Billing, "1e3" typed into a threshold
opened the Edit Card dialog, and "-5" on Buy Credits became "5" without a word. Escape leaves the
field for the screen's keys.
The server's maximum is configurable and not served by the API, so
the one here is a guide (by default the server's default, 10,000.00); the server's 422
``amount_above_maximum`` stays the truth, and ``AmountInput.refused`` shows it in place.
"""

from __future__ import annotations

import re
from decimal import Decimal
from time import monotonic

from pydantic_core import PydanticCustomError
from textual import events
from textual.binding import Binding
from textual.validation import ValidationResult, Validator
from textual.widgets import Input

from credits_tui.api_client import errors
from credits_tui.api_client.client import parse_purchase_amount
from credits_tui.api_client.models import parse_money
from credits_tui.formatting import credits_text, plain_amount

DEFAULT_MAX_PURCHASE = Decimal("10000.00")
EMPTY_MESSAGE = "Enter an amount of at least 1.00 credit."
_MONEY_IN_TEXT = re.compile(r"\d[\d,]*\.\d{2}")
AMOUNT_CHARACTERS = frozenset("0123456789.,")
HELP_KEY = "?"  # never part of an amount: it opens the help even from this field
REFUSAL_NOTICE_S = 4.0


def parse_typed_amount(text: str) -> Decimal:
    """The purchase amount a person typed (``1,000.50``), or a ValidationError saying why not."""
    try:
        plain = plain_amount(text)
    except ValueError as problem:
        raise errors.ValidationError(str(problem), code="invalid_amount", field="amount") from None
    return parse_purchase_amount(plain)


class PurchaseAmountValidator(Validator):
    """A purchase amount as the server would take it, at most ``maximum``."""

    def __init__(self, maximum: Decimal = DEFAULT_MAX_PURCHASE) -> None:
        super().__init__()
        self.maximum = maximum

    def validate(self, value: str) -> ValidationResult:
        text = value.strip()
        if not text:
            return self.failure(EMPTY_MESSAGE, value)
        try:
            amount = parse_typed_amount(text)
        except errors.ValidationError as invalid:
            return self.failure(invalid.message, value)
        if amount > self.maximum:
            return self.failure(f"The maximum purchase is {credits_text(self.maximum)} credits.", value)
        return self.success()


class AmountInput(Input):
    """An ``Input`` for a purchase amount in credits; ``amount`` is the valid Decimal or None."""

    DEFAULT_CSS = """
    AmountInput { width: 24; }
    """
    # Shown in the footer while the field has the focus (the Input's own Enter is hidden).
    BINDINGS = [Binding("enter", "submit", "Buy")]

    def __init__(self, value: str | None = None, *, maximum: Decimal = DEFAULT_MAX_PURCHASE,
                 id: str | None = None, classes: str | None = None) -> None:
        self.validator = PurchaseAmountValidator(maximum)
        super().__init__(value, placeholder="e.g. 25.00", validators=[self.validator],
                         validate_on=["changed", "submitted"], valid_empty=True, id=id, classes=classes,
                         max_length=20)
        self._told_at = -REFUSAL_NOTICE_S  # when a refused key was last explained

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character is not None and character.isprintable() and character != HELP_KEY

    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable or event.character in AMOUNT_CHARACTERS:
            return  # typed (or handled) by the Input itself
        event.prevent_default()  # not typed here
        if event.character == HELP_KEY:
            return  # on to the app
        event.stop()
        self.app.bell()
        now = monotonic()
        if now - self._told_at > REFUSAL_NOTICE_S:  # one notice for a word typed here, a bell a key
            self._told_at = now
            self.notify(f"{event.character!r} cannot go in an amount: type digits, with a point for cents "
                        "(such as 1,000.50).", title="Not typed", severity="warning", timeout=REFUSAL_NOTICE_S)

    @property
    def maximum(self) -> Decimal:
        return self.validator.maximum

    @maximum.setter
    def maximum(self, maximum: Decimal) -> None:
        self.validator.maximum = maximum
        self.validate(self.value)

    @property
    def amount(self) -> Decimal | None:
        """The amount typed, if it is a valid purchase; None otherwise (also when empty)."""
        if not self.validator.validate(self.value).is_valid:
            return None
        return parse_typed_amount(self.value)

    def problem(self) -> str | None:
        """Why the amount cannot be bought (also for an empty field), or None."""
        result = self.validator.validate(self.value)
        return None if result.is_valid else result.failure_descriptions[0]

    def refused(self, error: errors.ApiError) -> None:
        """The server refused the amount: learn a lower maximum from its message if it names one."""
        self.add_class("-invalid")
        self.remove_class("-valid")
        if error.code == "amount_above_maximum" and (found := _MONEY_IN_TEXT.search(error.message)):
            maximum = Decimal(found.group().replace(",", ""))
            if maximum >= Decimal("1.00"):
                self.validator.maximum = maximum


class MoneyValidator(Validator):
    """Any amount of credits from 0.00 up (a threshold, a recharge-to): the same typing rules."""

    def __init__(self, *, optional: bool) -> None:
        super().__init__()
        self.optional = optional

    def validate(self, value: str) -> ValidationResult:
        try:
            parse_typed_money(value, optional=self.optional)
        except errors.ValidationError as invalid:
            return self.failure(invalid.message, value)
        return self.success()


def parse_typed_money(text: str, *, optional: bool = False) -> Decimal | None:
    """An amount of credits a person typed (``1,000.50``), None if empty and ``optional``."""
    if not text.strip():
        if optional:
            return None
        raise errors.ValidationError("Enter an amount, such as 500.00.", code="invalid_amount")
    try:
        return parse_money(plain_amount(text))
    except (ValueError, PydanticCustomError) as problem:
        message = problem.message() if isinstance(problem, PydanticCustomError) else str(problem)
        raise errors.ValidationError(message, code="invalid_amount") from None


class MoneyInput(AmountInput):
    """An ``AmountInput`` for a setting rather than a purchase: 0.00 and up, no purchase limits;
    ``optional`` lets it be empty (the setting is off). ``amount`` is the Decimal typed or None."""

    BINDINGS = [Binding("enter", "submit", "Save")]

    def __init__(self, value: str | None = None, *, optional: bool = False, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(value, id=id, classes=classes)
        self.validator = MoneyValidator(optional=optional)  # type: ignore[assignment]
        self.validators = [self.validator]
        self.valid_empty = optional

    @property
    def amount(self) -> Decimal | None:
        try:
            return parse_typed_money(self.value, optional=True)
        except errors.ValidationError:
            return None
