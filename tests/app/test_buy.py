"""Buy Credits, driven as a person would: keys one at a time, on the real backend in-process."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from decimal import Decimal

from textual.widgets import Button
from textual.widgets._footer import FooterKey

from credits_tui.api_client import errors
from credits_tui.api_client.models import BillingAddress, CardInput
from credits_tui.screens.confirm_purchase import ConfirmPurchase
from credits_tui.widgets.amount_input import AmountInput
from credits_tui.widgets.money import BalanceDigits
from tests.support.pilot import balance, notifications, open_buy, purchase_count, text_of, type_text, wait_for

FROZEN = datetime(2026, 11, 15, 15, 30, tzinfo=timezone.utc)


def card_input(number: str) -> CardInput:
    return CardInput(
        cardholder_name="Ada Admin", number=number, exp_month=11, exp_year=datetime.now(timezone.utc).year + 3,
        cvc="123", billing_address=BillingAddress(line1="1 Test Street", city="Springfield", region="IL",
                                                  postal_code="62701", country="US"))


async def test_opens_with_the_amount_field_focused_also_when_switched_to_again(make_app):
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        assert screen.focused is screen.query_one("#amount", AmountInput)
        assert "ending 4242" in text_of(screen, "#card")
        await pilot.press("tab")  # focus elsewhere, leave, come back
        await pilot.press("1")
        await wait_for(pilot, lambda: app.current_mode == "status")
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.pause()
        assert screen.focused is screen.query_one("#amount", AmountInput)


async def test_the_footer_offers_buy_only_while_a_card_is_on_file(make_app):
    """An account without a card is not offered Enter: Buy; once a card is put on file (here
    through the API, as the CLI or another admin would), Buy Credits shown again offers it."""
    app = make_app("other-admin@demo.example", section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)

        def offers_buy() -> bool:
            return any(key.description == "Buy" for key in screen.query(FooterKey))

        await wait_for(pilot, lambda: not offers_buy())
        await app.api.put_card(card_input("4242424242424242"))
        await pilot.press("1")
        await wait_for(pilot, lambda: app.current_mode == "status")
        await pilot.press("3")
        await wait_for(pilot, lambda: app.screen is screen and "ending 4242" in text_of(screen, "#card"))
        await wait_for(pilot, offers_buy)


async def test_a_purchase_raises_the_balance_by_exactly_the_amount(make_app):
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        before, purchases = await balance(app), await purchase_count(app)
        await type_text(pilot, "12.34")
        assert text_of(screen, "#summary") == (
            f"Charge 12.34 USD to Visa ending 4242 · balance after: {before + Decimal('12.34'):,.2f}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        confirm = app.screen
        assert "Buy 12.34 credits?" in text_of(confirm, "#confirm-amount")
        assert "Visa ending 4242" in text_of(confirm, "#confirm-card")
        assert f"{before + Decimal('12.34'):,.2f}" in text_of(confirm, "#confirm-balance")
        await pilot.press("y")
        await wait_for(pilot, lambda: "Bought 12.34 credits" in text_of(screen, "#outcome"))
        after = await balance(app)
        assert after == before + Decimal("12.34")
        assert await purchase_count(app) == purchases + 1
        assert screen.query_one("#balance", BalanceDigits).value == f"{after:,.2f}"
        assert f"New balance: {after:,.2f}" in text_of(screen, "#outcome")
        assert screen.query_one("#amount", AmountInput).value == ""
        assert any("Bought 12.34 credits" in n.message for n in app._notifications)
        assert screen.focused is screen.query_one("#amount", AmountInput)


async def test_y_confirms(make_app):
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        before = await balance(app)
        await type_text(pilot, "5")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Bought 5.00 credits" in text_of(screen, "#outcome"))
        assert await balance(app) == before + 5


async def test_n_and_escape_cancel_without_buying(make_app):
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        before, purchases = await balance(app), await purchase_count(app)
        await type_text(pilot, "30")
        for key in ("n", "escape"):
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
            await pilot.press(key)
            await wait_for(pilot, lambda: app.screen is screen)
            await pilot.pause(0.2)
            assert "nothing was bought" in text_of(screen, "#outcome")
            assert screen.query_one("#amount", AmountInput).value == "30"  # the field keeps the amount
            assert screen.focused is screen.query_one("#amount", AmountInput)
        assert await balance(app) == before
        assert await purchase_count(app) == purchases


async def test_quick_amount_buttons_fill_the_field(make_app):
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        await pilot.click("#quick-250")
        field = screen.query_one("#amount", AmountInput)
        assert field.value == "250.00"
        assert screen.focused is field
        assert "Charge 250.00 USD" in text_of(screen, "#summary")
        # By keyboard: Tab from the field to Buy, then to the first quick amount.
        await pilot.press("tab", "tab", "enter")
        assert field.value == "25.00"


async def test_invalid_amounts_show_why_and_enter_does_not_confirm(make_app):
    # Each amount the field refuses, and why, is tests/app/test_amount_input_widget.py's (the
    # field alone); here Buy Credits shows the field's message and Enter does not confirm.
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        field = screen.query_one("#amount", AmountInput)
        await type_text(pilot, "0.99")
        assert "minimum purchase is 1.00" in text_of(screen, "#amount-message")
        assert field.has_class("-invalid")
        assert "Correct the amount" in text_of(screen, "#summary")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.screen is screen, "0.99 opened the confirm"
        assert "minimum purchase is 1.00" in text_of(screen, "#amount-message")
        await pilot.press("ctrl+u")  # clear the field
        # An empty field: Enter says what to do, nothing opens.
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.screen is screen
        assert "at least 1.00" in text_of(screen, "#amount-message")
        # The largest amount is fine, also written as the app prints it.
        await type_text(pilot, "10,000.00")
        assert not field.has_class("-invalid")
        assert "Charge 10,000.00 USD" in text_of(screen, "#summary")


async def test_letters_are_not_typed_into_the_amount(make_app):
    """The field takes an amount's characters only: any other key is refused in place with a
    word on why, and reaches no screen key; ? still opens the help."""
    from credits_tui.screens.help import HelpScreen

    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        field = screen.query_one("#amount", AmountInput)
        await type_text(pilot, "1qe-r2")
        assert field.value == "12"
        assert app.screen is screen
        refused = [message for message in notifications(app) if "cannot go in an amount" in message]
        assert [message[:3] for message in refused] == ["'q'"]  # one notice for the burst, a bell a key
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert field.value == "12"


async def test_a_declined_card_shows_the_message_and_changes_nothing(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await app.api.put_card(card_input("4000000000000341"))
        screen = await open_buy(app, pilot)
        before, purchases = await balance(app), await purchase_count(app)
        shown = screen.query_one("#balance", BalanceDigits).value
        await type_text(pilot, "12.34")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y")
        await wait_for(pilot, lambda: "declined" in text_of(screen, "#outcome"))
        assert "Your card was declined. No credits were added." in text_of(screen, "#outcome")
        assert await balance(app) == before
        assert await purchase_count(app) == purchases
        assert screen.query_one("#balance", BalanceDigits).value == shown
        assert screen.query_one("#amount", AmountInput).value == "12.34"  # to try again after a fix


async def test_without_a_card_the_screen_leads_to_billing(make_app):
    app = make_app("other-admin@demo.example", section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        assert screen.query_one("#no-card").display
        assert not screen.query_one("#buy-form").display
        assert "card on file is required" in text_of(screen, "#no-card-text")
        assert screen.focused is screen.query_one("#to-billing", Button)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "billing")


async def test_a_card_required_answer_leads_to_billing(make_app):
    """The card went away after the screen loaded: the server's 402 card_required."""
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)

        async def no_card(amount, **_):
            raise errors.CardRequiredError("Add a credit card on the Billing screen before buying credits.",
                                           code="card_required", status=402)

        app.api.purchase = no_card
        await type_text(pilot, "7")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.query_one("#no-card").display)
        assert "Billing" in text_of(screen, "#no-card-text")
        await pilot.click("#to-billing")
        await wait_for(pilot, lambda: app.current_mode == "billing")


async def test_enter_again_and_again_buys_exactly_once(make_app):
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        before, purchases = await balance(app), await purchase_count(app)
        real_purchase, calls, card_processor = app.api.purchase, [], asyncio.Event()

        async def slow_purchase(amount, **kwargs):
            calls.append(amount)
            await card_processor.wait()  # a slow card processor: the person keeps pressing Enter
            return await real_purchase(amount, **kwargs)

        app.api.purchase = slow_purchase
        await type_text(pilot, "9.99")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y", "y")  # double y in the confirm
        await wait_for(pilot, lambda: app.screen is screen and screen.query_one("#processing").display)
        assert "Processing" in text_of(screen, "#processing-text")
        assert screen.query_one("#amount", AmountInput).disabled
        assert screen.query_one("#buy", Button).disabled
        for _ in range(5):
            await pilot.press("enter")
        await pilot.click("#buy")
        await pilot.press("r")  # a refresh meanwhile changes nothing either
        await pilot.pause(0.2)
        assert app.screen is screen
        assert screen.query_one("#processing").display
        card_processor.set()
        await wait_for(pilot, lambda: "Bought 9.99 credits" in text_of(screen, "#outcome"))
        assert not screen.query_one("#processing").display
        assert not screen.query_one("#amount", AmountInput).disabled
        for _ in range(3):  # and after it, on the empty field
            await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.screen is screen
        assert calls == [Decimal("9.99")]
        assert await purchase_count(app) == purchases + 1
        assert await balance(app) == before + Decimal("9.99")


async def test_y_then_enters_buy_once(make_app):
    """At full speed: the Enters after the confirm must not open (and confirm) a second one."""
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        before, purchases = await balance(app), await purchase_count(app)
        await type_text(pilot, "2.50")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y", "enter", "enter", "y", "enter")
        await wait_for(pilot, lambda: "Bought 2.50 credits" in text_of(screen, "#outcome"))
        await pilot.pause(0.3)
        assert app.screen is screen
        assert await purchase_count(app) == purchases + 1
        assert await balance(app) == before + Decimal("2.50")


async def test_a_timeout_says_it_is_safe_to_retry_and_the_retry_reuses_the_key(make_app):
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        before, purchases = await balance(app), await purchase_count(app)
        real_purchase, keys = app.api.purchase, []

        async def lost_answer(amount, *, idempotency_key=None, **kwargs):
            keys.append(idempotency_key)
            result = await real_purchase(amount, idempotency_key=idempotency_key, **kwargs)
            if len(keys) == 1:  # the server bought it, but the answer never arrived
                raise errors.TimeoutError("The server at http://credits.test did not answer in time.",
                                          code="timeout")
            return result

        app.api.purchase = lost_answer
        await type_text(pilot, "40")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y")
        await wait_for(pilot, lambda: "safe to try again" in text_of(screen, "#outcome"))
        assert "did not answer in time" in text_of(screen, "#outcome")
        assert screen.query_one("#amount", AmountInput).value == "40"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Bought 40.00 credits" in text_of(screen, "#outcome"))
        assert len(keys) == 2 and keys[0] == keys[1] and keys[0]
        assert await purchase_count(app) == purchases + 1  # charged once, not twice
        assert await balance(app) == before + 40
        # A new purchase after that gets a new key.
        await type_text(pilot, "1")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Bought 1.00 credits" in text_of(screen, "#outcome"))
        assert keys[2] != keys[0]


async def test_the_servers_maximum_is_the_truth(make_app):
    """A server configured below the client's guide refuses with 422: shown at the field."""
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)

        async def above_maximum(amount, **_):
            raise errors.ValidationError("The maximum purchase is 500.00 credits.", code="amount_above_maximum",
                                         status=422, field="amount")

        app.api.purchase = above_maximum
        await type_text(pilot, "600")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y")
        field = screen.query_one("#amount", AmountInput)
        await wait_for(pilot, lambda: "maximum purchase is 500.00" in text_of(screen, "#amount-message"))
        assert field.has_class("-invalid")
        await pilot.press("enter")  # the guide learned the lower maximum: no confirm now
        await pilot.pause(0.1)
        assert app.screen is screen


async def test_server_text_is_not_markup(make_app):
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)

        async def odd_decline(amount, **_):
            raise errors.CardDeclinedError("Declined [/] by [bold]issuer[/bold].", code="card_declined",
                                           status=402)

        app.api.purchase = odd_decline
        await type_text(pilot, "3")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Declined [/] by [bold]issuer[/bold]." in text_of(screen, "#outcome"))


async def test_support_sees_the_balance_but_no_amount_input(make_app):
    app = make_app("support@demo.example", section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        assert not screen.query(AmountInput)
        assert not screen.query("#buy")
        assert "Only administrators can buy credits" in text_of(screen, "#read-only")
        status = await app.api.status()
        assert screen.query_one("#balance", BalanceDigits).value == f"{status.purchase_credits:,.2f}"
        await pilot.press("enter")  # nothing to confirm
        await pilot.pause(0.1)
        assert app.screen is screen


async def test_fits_80_by_24(make_app):
    app = make_app(section="buy")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_buy(app, pilot)
        await type_text(pilot, "10000")
        summary = screen.query_one("#summary")
        assert summary.region.bottom <= 23  # above the footer, without scrolling
        assert screen.query_one("#amount").region.right <= 80


async def test_the_command_palette_fills_a_quick_amount(make_app):
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        await pilot.press("ctrl+p")
        await type_text(pilot, "fill in 50.00")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.query_one("#amount", AmountInput).value == "50.00")
        await wait_for(pilot, lambda: screen.focused is screen.query_one("#amount", AmountInput))


async def test_another_sign_in_gets_a_fresh_screen(make_app):
    """The app keeps its section screens: a support user signing in after an admin buys nothing."""
    from credits_tui.api_client.models import Role

    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        await type_text(pilot, "12")
        app.me = app.me.model_copy(update={"id": app.me.id + 1000, "role": Role.support})
        screen.reload()
        await wait_for(pilot, lambda: bool(screen.query("#read-only")) and screen._status is not None)
        assert not screen.query(AmountInput)


async def test_the_servers_configured_maximum_is_checked_as_you_type(make_app, backend, monkeypatch):
    """The account status says the server's maximum: an amount above it never opens the confirm."""
    monkeypatch.setattr(backend.state.settings, "max_purchase", Decimal("500.00"))  # this test's only
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_buy(app, pilot)
        await wait_for(pilot, lambda: screen._status is not None)
        purchases = await purchase_count(app)
        await type_text(pilot, "600")
        assert "maximum purchase is 500.00" in text_of(screen, "#amount-message")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.screen is screen
        assert await purchase_count(app) == purchases
