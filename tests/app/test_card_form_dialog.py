"""The card dialog's own checks, on the dialog alone: a bad field shows its message under it,
takes the focus, and nothing is sent.

These checks belong to ``CardForm`` and ``CardFormScreen``, not to Billing or the backend, so
the dialog is pushed on a minimal app with a ``call_api`` that records every request instead
of starting the whole app for each field. tests/app/test_billing.py keeps one whole-app case
of each kind (the message in the real dialog over Billing, the server not called, the card on
file unchanged).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

import pytest
from textual.app import App

from credits_tui.api_client.models import BillingAddress, CardSummary
from credits_tui.screens.card_form import CardFormScreen
from tests.support.pilot import NEXT_YEAR

ON_FILE = CardSummary(brand="visa", last4="4242", exp_month=12, exp_year=datetime.now(timezone.utc).year + 3,
                      cardholder_name="Ada Admin", updated_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                      billing_address=BillingAddress(line1="1 Demo Way", city="Chicago", region="IL",
                                                     postal_code="60601", country="US"))


class DialogApp(App[None]):
    """Nothing but the Replace Card dialog; ``requests`` is every request it asked to send."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Callable[[object], Awaitable[object]]] = []

    async def call_api(self, request: Callable[[object], Awaitable[object]], *, show_errors: bool = True) -> object:
        self.requests.append(request)
        return ON_FILE  # as if saved: the dialog would close

    def on_mount(self) -> None:
        self.push_screen(CardFormScreen(self.call_api, "replace", ON_FILE))


async def clear_and_type(pilot, text: str) -> None:
    await pilot.press("end", "ctrl+u", *text)


def fill(dialog: CardFormScreen, **values: str) -> None:
    """Put text in the fields at once, as a paste would (typing is the whole-app tests' part:
    a key at a time costs a layout and a render of the dialog each)."""
    for name, value in values.items():
        dialog.form.input(name).value = value


GOOD = {"number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": NEXT_YEAR, "cvc": "123"}


@pytest.mark.parametrize(("field", "bad", "message"), [
    ("number", {"number": "4242 4242 4242 4241"}, "not valid: check it for typos"),
    ("number", {"number": "4242 4242 42"}, "12 to 19 digits; this one has 10"),
    ("exp_year", {"exp_year": "2020"}, "This card has expired"),
    ("exp_month", {"exp_month": "13"}, "a number from 1 to 12"),
    ("exp_year", {"exp_year": "31"}, "with 4 digits"),
    ("cvc", {"cvc": "12"}, "3 or 4 digits"),
], ids=["bad-luhn", "too-short", "expired", "month-13", "two-digit-year", "cvc-12"])
async def test_a_bad_card_field_shows_its_message_and_sends_nothing(field, bad, message):
    app = DialogApp()
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = app.screen
        assert isinstance(dialog, CardFormScreen)
        form = dialog.form
        fill(dialog, **GOOD | bad)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog
        assert set(form.errors) == {field} and message in form.errors[field]
        assert form.input(field).has_class("-invalid")
        assert dialog.focused is form.input(field)
        assert "Correct the fields marked in red." in str(dialog.query_one("#card-problem").content)
        assert app.requests == []


@pytest.mark.parametrize(("field", "value", "message", "corrected"), [
    ("city", "", "Enter the city.", "Chicago"),
    ("country", "USA", "2-letter country code", "US"),
    ("line1", "   ", "Enter the street address.", "1 Demo Way"),
])
async def test_a_bad_address_field_shows_its_message_and_sends_nothing(field, value, message, corrected):
    app = DialogApp()
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = app.screen
        assert isinstance(dialog, CardFormScreen)
        form = dialog.form
        fill(dialog, **GOOD | {field: value})
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert list(form.errors) == [field]
        assert message in form.errors[field]
        assert dialog.focused is form.input(field)
        assert app.requests == []
        # Correcting the field takes its message away as it is typed.
        await clear_and_type(pilot, corrected)
        assert form.errors == {}


async def test_a_correct_form_is_sent_once():
    """The stand-in's own check: a good card does reach ``call_api`` (so the cases above
    would see a request that slipped through)."""
    app = DialogApp()
    async with app.run_test(size=(120, 36)) as pilot:
        fill(app.screen, **GOOD)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert len(app.requests) == 1
