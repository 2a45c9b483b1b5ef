"""The card check at save (DESIGN §7), as the card form shows it.

The backend verifies a card when it is saved and refuses the public decline test numbers,
keeping the old card. The form must show the refusal where it can be read (under the
number when the server names that field), keep what was typed, and never report it saved.
"""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient
from textual.widgets import Static

from credits_tui.api_client.models import CardInput
from credits_tui.app import Connection, CreditsApp
from credits_tui.auth.tokens import TokenStore
from credits_tui.backend.demo import DEMO_PASSWORD
from credits_tui.screens.card_form import CardFormScreen
from tests.support.pilot import SERVER, fill_new_card, notifications, open_billing, open_form, wait_for

# number → (status, code, field, message) the backend answers at save (DESIGN §7)
REFUSALS = {
    "4000000000000002": (402, "card_declined", None, "Your card was declined."),
    "4000000000009995": (402, "insufficient_funds", None, "Your card has insufficient funds."),
    "4000000000000069": (422, "expired_card", "number", "Your card has expired."),
    "4000000000000119": (502, "processing_error", None, "The payment processor failed: try again."),
}


class CardCheckingGateway(httpx.AsyncBaseTransport):
    """The real backend in-process, with the card check at save answered as DESIGN §7 says."""

    def __init__(self, backend) -> None:
        self.backend = httpx.ASGITransport(app=backend)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and request.url.path.endswith("/billing/card"):
            number = json.loads(request.content)["number"].replace(" ", "")
            if number in REFUSALS:
                status, code, field, message = REFUSALS[number]
                return httpx.Response(status, json={"error": {"code": code, "message": message, "field": field}})
        return await self.backend.handle_async_request(request)


@pytest.fixture
def checking_app(backend, memory_keyring) -> CreditsApp:
    with TestClient(backend) as client:
        response = client.post("/api/v1/auth/tokens", json={"email": "admin@demo.example",
                                                            "password": DEMO_PASSWORD})
        token = response.json()["token"]
    connection = Connection(server=SERVER, email="admin@demo.example", token=token, remember_token=False,
                            transport=CardCheckingGateway(backend))
    return CreditsApp(connection, store=TokenStore(memory_keyring))


async def replace_with(app, pilot, number: str) -> CardFormScreen:
    await open_billing(app, pilot)
    await open_form(app, pilot, "c")
    await fill_new_card(pilot, number)
    await pilot.press("ctrl+s")
    dialog = app.screen
    assert isinstance(dialog, CardFormScreen)
    await wait_for(pilot, lambda: dialog.query_one("#card-problem", Static).display and not dialog.saving)
    return dialog


def problem(dialog: CardFormScreen) -> str:
    return str(dialog.query_one("#card-problem", Static).content)


@pytest.mark.parametrize("number", list(REFUSALS))
async def test_a_refused_card_is_shown_on_the_form_and_the_old_card_stays(checking_app, number):
    app = checking_app
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await replace_with(app, pilot, number)
        _, _, field, message = REFUSALS[number]
        assert message in problem(dialog) and "not changed" in problem(dialog)
        form = dialog.form
        if field == "number":
            assert form.errors["number"] == message
            assert dialog.focused is form.input("number")
        assert form.input("number").value == number  # what was typed stays
        assert app.screen is dialog
        assert not any("saved" in note for note in notifications(app))
        assert (await app.api.card()).last4 == "4242"


async def test_a_refusal_by_the_real_backend_shows_under_the_number(make_app):
    # The backend refuses an invalid number today (the form checks it first, so send one past it).
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_billing(app, pilot)
        form = await open_form(app, pilot, "c")
        await fill_new_card(pilot, "4242 4242 4242 4242")
        dialog = app.screen
        card = await app.api.card()
        request = CardInput.model_construct(
            cardholder_name="Ada Admin", number="4242424242424241", exp_month=12, exp_year=card.exp_year + 1,
            cvc="123", billing_address=card.billing_address)
        dialog.save(request)
        await wait_for(pilot, lambda: "number" in form.errors)
        assert "not valid" in form.errors["number"]
        assert "not changed" in problem(dialog)
        assert form.input("number").value == "4242 4242 4242 4242"
        assert app.screen is dialog and not dialog.saving
        assert (await app.api.card()).last4 == "4242"


@pytest.mark.parametrize("number", list(REFUSALS))
async def test_the_real_backend_refuses_the_decline_test_cards_at_save(make_app, number):
    # Passes once the backend's card check at save (DESIGN §7) is merged.
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await replace_with(app, pilot, number)
        assert "not changed" in problem(dialog)
        if REFUSALS[number][2] == "number":
            assert "number" in dialog.form.errors
        assert dialog.form.input("number").value == number
        assert not any("saved" in note for note in notifications(app))
        assert (await app.api.card()).last4 == "4242"
