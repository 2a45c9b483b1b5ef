"""The card check at save (DESIGN §7), as the card form shows it.

The backend verifies a card when it is saved and refuses the public decline test numbers,
keeping the old card. The form must show the refusal where it can be read (under the
number when the server names that field), keep what was typed, and never report it saved.
Each number's answer (status, code, field, message, the old card still paying) is the
backend's own test (tests/backend/test_card_check.py); here one app session offers the real
backend each number in turn, in a fresh Replace Card dialog each time.
"""

from __future__ import annotations

from textual.widgets import Static

from credits_tui.api_client.models import CardInput
from credits_tui.screens.billing import BillingScreen
from credits_tui.screens.card_form import CardFormScreen
from tests.support.pilot import fill_new_card, notifications, open_billing, open_form, wait_for

# number → (the field the backend names, words of its message) (DESIGN §7)
REFUSALS = {
    "4000000000000002": (None, "declined"),
    "4000000000009995": (None, "insufficient funds"),
    "4000000000000069": ("number", "expired"),
    "4000000000000119": (None, "could not check"),
}


async def replace_with(app, pilot, number: str) -> CardFormScreen:
    """From Billing, a Replace Card dialog, the new number saved and the server's answer shown."""
    await open_form(app, pilot, "c")
    await fill_new_card(pilot, number)
    await pilot.press("ctrl+s")
    dialog = app.screen
    assert isinstance(dialog, CardFormScreen)
    await wait_for(pilot, lambda: dialog.query_one("#card-problem", Static).display and not dialog.saving)
    return dialog


def problem(dialog: CardFormScreen) -> str:
    return str(dialog.query_one("#card-problem", Static).content)


async def test_each_refused_card_is_shown_on_the_form_and_the_old_card_stays(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(80, 24)) as pilot:
        billing = await open_billing(app, pilot)
        for number, (field, words) in REFUSALS.items():
            dialog = await replace_with(app, pilot, number)
            form = dialog.form
            assert words in problem(dialog).lower() and "not changed" in problem(dialog), number
            if field == "number":
                assert words in form.errors["number"].lower(), number
                assert dialog.focused is form.input("number")
            else:
                assert form.errors == {}, number
            assert form.input("number").value == number  # what was typed stays
            assert app.screen is dialog, number
            assert not any("saved" in note for note in notifications(app)), number
            assert (await app.api.card()).last4 == "4242", number
            await pilot.press("escape")  # and the next number in a fresh dialog
            await wait_for(pilot, lambda: app.screen is billing)
        assert isinstance(app.screen, BillingScreen)
        assert "Visa ending 4242" in str(billing.query_one("#billing-card", Static).content)


async def test_a_refusal_by_the_real_backend_shows_under_the_number(make_app):
    # The backend refuses an invalid number today (the form checks it first, so send one past it).
    app = make_app(section="billing")
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
