"""The purchase amount field's own checks, on the field alone: each amount a person may type
is marked and explained as it is typed, and one that cannot be bought has no ``amount``
(Buy Credits asks to confirm only with one).

The rules belong to ``AmountInput``, so it is mounted on a minimal app instead of starting the
whole app for each amount; tests/app/test_buy.py keeps the whole-app proof that Buy Credits
shows the message and that Enter on a bad amount does not open the confirm.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input

from credits_tui.widgets.amount_input import AmountInput
from tests.support.pilot import type_text


class AmountApp(App[None]):
    """Nothing but the amount field; ``said`` is the last message its check gave the screen."""

    def __init__(self) -> None:
        super().__init__()
        self.said: str | None = None

    def compose(self) -> ComposeResult:
        yield AmountInput(id="amount")

    def on_input_changed(self, event: Input.Changed) -> None:
        result = event.validation_result
        self.said = None if result is None or result.is_valid else result.failure_descriptions[0]


@pytest.mark.parametrize(("text", "why"), [
    ("0.99", "minimum purchase is 1.00"),
    ("1.001", "two decimal places"),
    ("1.2.3", "plain number"),
    ("1,0", "groups of three digits"),
    (",5", "groups of three digits"),
    ("10000.01", "maximum purchase is 10,000.00"),
])
async def test_an_amount_that_cannot_be_bought_says_why_as_it_is_typed(text, why):
    app = AmountApp()
    async with app.run_test(size=(40, 5)) as pilot:
        field = app.query_one("#amount", AmountInput)
        await type_text(pilot, text)
        assert field.value == text
        assert field.has_class("-invalid")
        assert app.said is not None and why in app.said
        assert field.amount is None
        problem = field.problem()
        assert problem is not None and why in problem


@pytest.mark.parametrize(("text", "amount"), [
    ("10000", "10000.00"), ("10,000.00", "10000.00"), ("1,000.50", "1000.50"), ("25.", "25.00"), ("1", "1.00"),
])
async def test_the_largest_amount_and_amounts_as_the_app_prints_them_are_fine(text, amount):
    app = AmountApp()
    async with app.run_test(size=(40, 5)) as pilot:
        field = app.query_one("#amount", AmountInput)
        await type_text(pilot, text)
        assert not field.has_class("-invalid") and app.said is None
        assert field.amount == Decimal(amount) and field.problem() is None


async def test_an_empty_field_cannot_be_bought_and_says_what_to_type():
    app = AmountApp()
    async with app.run_test(size=(40, 5)):
        field = app.query_one("#amount", AmountInput)
        assert field.amount is None
        problem = field.problem()
        assert problem is not None and "at least 1.00" in problem
