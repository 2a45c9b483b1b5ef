"""Billing, driven by keys as a person would, against the real backend in-process."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timezone

from rich.console import Console
from sqlalchemy import delete, select
from textual.widgets import Button, DataTable, Static

from credits_tui.api_client import errors
from credits_tui.backend.db.schema import Account, Invoice, InvoiceLine
from credits_tui.screens.billing import NO_CARD, READ_ONLY_NOTE, BillingScreen
from credits_tui.screens.card_form import CardFormScreen
from credits_tui.widgets.card_form import check_values, luhn_ok
from tests.support.pilot import NEXT_YEAR, fill_new_card, notifications, open_billing, open_form, wait_for


def card_shown(screen: BillingScreen) -> str:
    return str(screen.query_one("#billing-card", Static).content)


def visible_buttons(screen: BillingScreen) -> set[str]:
    return {str(b.label) for b in screen.query("#billing-actions Button") if b.display}


async def clear_and_type(pilot, text: str) -> None:
    await pilot.press("end", "ctrl+u", *text)


def spy(app, method: str) -> list[object]:
    """Record what the app sends through ``app.api.<method>`` (and still send it)."""
    sent: list[object] = []
    original = getattr(app.api, method)

    async def recording(*args):
        sent.append(args[0] if args else None)
        return await original(*args)

    setattr(app.api, method, recording)
    return sent


async def back_on_billing(app, pilot, condition=lambda screen: True) -> BillingScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, BillingScreen) and condition(app.screen))
    return app.screen


# --- the card on file -------------------------------------------------------------------------


async def test_billing_shows_the_card_on_file_with_its_actions(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_billing(app, pilot)
        text = card_shown(screen)
        assert "Visa ending 4242" in text
        assert "Ada Admin" in text
        assert "1 Demo Way" in text and "Chicago, IL 60601 · US" in text
        assert "Expires 12/" in text
        assert visible_buttons(screen) == {"Edit Card", "Replace Card", "Remove Card…"}
        shown = {key for key, active in screen.active_bindings.items() if active.enabled}
        assert {"e", "c", "x"} <= shown and "a" not in shown
        # The demo's past invoices (months when transcription went past zero), not "No invoices yet".
        assert screen.query_one("#billing-invoices", DataTable).row_count > 0
        assert screen.query_one("#billing-invoices", DataTable).display
        assert not screen.query_one("#billing-invoices-empty", Static).display


async def test_edit_changes_the_name_and_expiry_with_a_patch_of_only_those(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)
        sent = spy(app, "patch_card")
        form = await open_form(app, pilot, "e")
        assert not form.ask_number and not form.query("#cf-number") and not form.query("#cf-cvc")
        assert app.screen.focused is form.input("cardholder_name")
        await clear_and_type(pilot, "Grace Hopper")
        await pilot.press("tab")
        await clear_and_type(pilot, "3")
        await pilot.press("tab")
        await clear_and_type(pilot, NEXT_YEAR)
        await pilot.press("enter")  # every field is filled: Enter saves
        screen = await back_on_billing(app, pilot, lambda s: "Grace Hopper" in card_shown(s))
        assert f"Expires 03/{NEXT_YEAR}" in card_shown(screen)
        assert len(sent) == 1 and sent[0].model_fields_set == {"cardholder_name", "exp_month", "exp_year"}
        card = await app.api.card()
        assert (card.cardholder_name, card.exp_month, card.exp_year, card.last4) == (
            "Grace Hopper", 3, int(NEXT_YEAR), "4242")
        assert card.billing_address.line1 == "1 Demo Way"
        assert "Visa ending 4242 saved." in notifications(app)


async def test_edit_of_the_address_sends_the_address_only(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)
        sent = spy(app, "patch_card")
        form = await open_form(app, pilot, "e")
        form.input("city").focus()
        await clear_and_type(pilot, "Springfield")
        await pilot.press("ctrl+s")
        await back_on_billing(app, pilot, lambda s: "Springfield, IL" in card_shown(s))
        assert len(sent) == 1 and sent[0].model_fields_set == {"billing_address"}
        assert (await app.api.card()).billing_address.city == "Springfield"


async def test_replace_puts_a_new_card_and_never_shows_its_number(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)
        form = await open_form(app, pilot, "c")
        assert app.screen.focused is form.input("number")  # name and address are kept
        await fill_new_card(pilot, "5555 5555 5555 4444", "11", NEXT_YEAR, "321")
        await pilot.press("enter")
        screen = await back_on_billing(app, pilot, lambda s: "ending 4444" in card_shown(s))
        text = card_shown(screen)
        assert "Mastercard ending 4444" in text and f"Expires 11/{NEXT_YEAR}" in text
        assert "5555" not in text
        card = await app.api.card()
        assert (card.brand, card.last4, card.exp_month, card.cardholder_name) == ("mastercard", "4444", 11,
                                                                                 "Ada Admin")
        assert "Mastercard ending 4444 saved." in notifications(app)
        assert not any("5555 5555" in n or "5555555555554444" in n for n in notifications(app))


# Each bad field of the dialog, one by one, is tests/app/test_card_form_dialog.py's (the dialog
# alone); these two prove the same over Billing: the message in the real dialog, the server not
# asked, the card on file as it was.


async def test_a_bad_card_field_shows_its_message_and_sends_nothing(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)
        sent = spy(app, "put_card")
        form = await open_form(app, pilot, "c")
        await fill_new_card(pilot, "4242 4242 4242 4241")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, CardFormScreen)
        assert set(form.errors) == {"number"} and "not valid" in form.errors["number"]
        assert form.input("number").has_class("-invalid")
        assert app.screen.focused is form.input("number")
        assert sent == []
        assert (await app.api.card()).last4 == "4242"
        await pilot.press("escape")
        await back_on_billing(app, pilot)


async def test_a_bad_address_field_shows_its_message_and_sends_nothing(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)
        sent = spy(app, "put_card")
        form = await open_form(app, pilot, "c")
        await fill_new_card(pilot, "4242 4242 4242 4242")
        await pilot.press(*["tab"] * 6)  # from the CVC to the country, past the kept address
        assert app.screen.focused is form.input("country")
        await clear_and_type(pilot, "USA")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert list(form.errors) == ["country"]
        assert "2-letter country code" in form.errors["country"]
        assert sent == []
        assert (await app.api.card()).last4 == "4242"
        # Correcting the field takes its message away as it is typed.
        await clear_and_type(pilot, "US")
        assert form.errors == {}


async def test_edit_refuses_an_expiry_in_the_past(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)
        sent = spy(app, "patch_card")
        form = await open_form(app, pilot, "e")
        await pilot.press("tab", "tab")
        await clear_and_type(pilot, "2021")
        await pilot.press("enter")
        await pilot.pause()
        assert "expired" in form.errors["exp_year"]
        assert sent == []


async def test_the_later_declining_test_card_is_saved_declines_come_with_charges(make_app):
    # 4000000000000341 passes the check at save (DESIGN §7); only its charges are declined.
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)
        await open_form(app, pilot, "c")
        await fill_new_card(pilot, "4000 0000 0000 0341")
        await pilot.press("enter")
        await back_on_billing(app, pilot, lambda s: "Visa ending 0341" in card_shown(s))
        assert (await app.api.card()).last4 == "0341"


async def test_escape_cancels_and_sends_nothing(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)
        sent = spy(app, "put_card")
        await open_form(app, pilot, "c")
        await pilot.press(*"5555555555554444")
        await pilot.press("escape")
        await back_on_billing(app, pilot)
        assert sent == [] and (await app.api.card()).last4 == "4242"


async def test_saving_shows_its_state_and_a_second_submit_sends_nothing(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)
        release = asyncio.Event()
        calls = []
        original = app.api.put_card

        async def slow_put(card):
            calls.append(card)
            await release.wait()
            return await original(card)

        app.api.put_card = slow_put
        await open_form(app, pilot, "c")
        await fill_new_card(pilot, "5555 5555 5555 4444")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(calls) == 1)
        dialog = app.screen
        assert dialog.saving
        save = dialog.query_one("#card-save", Button)
        assert save.disabled and str(save.label) == "Saving…"
        saving = dialog.query_one("#card-saving", Static)
        assert str(saving.content) == "Checking the card…"
        assert saving.content_size.width >= len("Checking the card…")  # whole, beside the buttons
        await pilot.press("ctrl+s")
        await pilot.press("escape")  # not while the server has the card
        await pilot.pause()
        assert len(calls) == 1 and app.screen is dialog
        release.set()
        await back_on_billing(app, pilot, lambda s: "ending 4444" in card_shown(s))
        assert len(calls) == 1


async def test_a_server_refusal_of_a_field_shows_under_that_field(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)

        async def refuse(card):
            raise errors.ValidationError("The postal code [b]60601[/] is not in IL.", code="invalid_postal_code",
                                         status=422, field="billing_address.postal_code")

        app.api.put_card = refuse
        form = await open_form(app, pilot, "c")
        await fill_new_card(pilot, "5555 5555 5555 4444")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "postal_code" in form.errors)
        assert form.errors["postal_code"] == "The postal code [b]60601[/] is not in IL."  # as sent, not markup
        assert app.screen.focused is form.input("postal_code")
        assert not app.screen.saving and not app.screen.query_one("#card-save", Button).disabled


async def test_other_failures_are_shown_in_the_dialog(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)

        async def fail(card):
            raise errors.ServerError("The payment processor is unavailable [try later].", code="gateway", status=503)

        app.api.put_card = fail
        await open_form(app, pilot, "c")
        await fill_new_card(pilot, "5555 5555 5555 4444")
        await pilot.press("ctrl+s")
        problem = app.screen.query_one("#card-problem", Static)
        await wait_for(pilot, lambda: "unavailable" in str(problem.content))
        assert problem.display and isinstance(app.screen, CardFormScreen)
        assert (await app.api.card()).last4 == "4242"


async def test_remove_card_shows_the_accounting_contact(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_billing(app, pilot)
        note = screen.query_one("#billing-removal-note", Static)
        assert not note.display
        await pilot.press("x")
        await wait_for(pilot, lambda: note.display)
        assert "accounting@leadliaison.com" in str(note.content)
        assert screen.error_banner.visible_message is None
        assert (await app.api.card()).last4 == "4242"


async def test_remove_card_button_by_tab_and_enter(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_billing(app, pilot)
        assert screen.focused is screen.query_one("#card-edit", Button)
        await pilot.press("tab", "tab")
        assert screen.focused is screen.query_one("#card-remove", Button)
        await pilot.press("enter")
        note = screen.query_one("#billing-removal-note", Static)
        await wait_for(pilot, lambda: "contact accounting" in str(note.content))


async def test_support_sees_the_card_but_cannot_change_it(make_app):
    app = make_app("support@demo.example", section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_billing(app, pilot)
        assert "Visa ending 4242" in card_shown(screen)
        assert visible_buttons(screen) == set()
        assert str(screen.query_one("#billing-role-note", Static).content) == READ_ONLY_NOTE
        shown = {key for key, active in screen.active_bindings.items() if active.enabled}
        assert not {"a", "e", "c", "x"} & shown
        await pilot.press("e", "c", "a", "x")
        await pilot.pause()
        assert app.screen is screen


async def test_other_co_admin_has_no_card_and_adds_one(make_app):
    app = make_app("other-admin@demo.example", section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_billing(app, pilot)
        assert NO_CARD in card_shown(screen)
        assert visible_buttons(screen) == {"Add Credit Card"}
        form = await open_form(app, pilot, "a")
        assert app.screen.focused is form.input("cardholder_name")
        # Enter walks from one empty required field to the next, and saves after the last.
        for value in ("Olga Other", "4242-4242-4242-4242", "9", NEXT_YEAR, "4321", "5 Other Street",
                      "Portland", "97201", "us"):
            await pilot.press(*value, "enter")
        screen = await back_on_billing(app, pilot, lambda s: "Visa ending 4242" in card_shown(s))
        assert visible_buttons(screen) == {"Edit Card", "Replace Card", "Remove Card…"}
        assert screen.focused is screen.query_one("#card-edit", Button)
        card = await app.api.card()
        assert (card.cardholder_name, card.exp_month, card.billing_address.country,
                card.billing_address.line2, card.billing_address.region) == ("Olga Other", 9, "US", None, None)
        assert "Visa ending 4242 saved." in notifications(app)


async def test_enter_on_an_empty_add_form_marks_the_field_and_sends_nothing(make_app):
    app = make_app("other-admin@demo.example", section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_billing(app, pilot)
        sent = spy(app, "put_card")
        form = await open_form(app, pilot, "a")
        await pilot.press("enter")
        assert list(form.errors) == ["cardholder_name"]
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert set(form.errors) == {"cardholder_name", "number", "exp_month", "exp_year", "cvc", "line1",
                                    "city", "postal_code", "country"}
        assert sent == [] and await app.api.card() is None


# --- past invoices --------------------------------------------------------------------------------


def add_invoices(backend) -> None:
    """Demo Co.'s invoices become exactly these two (the demo's own are set aside)."""
    database = backend.state.database
    with database.write() as session:
        account_id = session.scalar(select(Account.id).where(Account.name == "Demo Co."))
        demo_invoices = select(Invoice.id).where(Invoice.account_id == account_id)
        session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id.in_(demo_invoices)))
        session.execute(delete(Invoice).where(Invoice.account_id == account_id))
        paid = Invoice(account_id=account_id, period="2026-08", amount_cents=4_375, status="paid",
                       card_last4="4242", created_at=datetime(2026, 9, 1, 0, 5, tzinfo=timezone.utc),
                       paid_at=datetime(2026, 9, 1, 0, 6, tzinfo=timezone.utc))
        failed = Invoice(account_id=account_id, period="2026-09", amount_cents=1_250, status="payment_failed",
                         card_last4="4242", failure_message="Your card was declined.",
                         created_at=datetime(2026, 10, 1, 0, 5, tzinfo=timezone.utc), paid_at=None)
        session.add_all([paid, failed])
        session.flush()
        session.add_all([
            InvoiceLine(invoice_id=paid.id, process_type="premium_audio_transcription",
                        description="Premium audio transcription", quantity=35, amount_cents=5_000),
            InvoiceLine(invoice_id=paid.id, process_type=None, description="Prepaid credits applied [/]",
                        quantity=1, amount_cents=-625),
            InvoiceLine(invoice_id=failed.id, process_type="business_card_transcription",
                        description="Business card transcription", quantity=25, amount_cents=1_250),
        ])


async def test_past_invoices_with_the_lines_of_the_highlighted_one(make_app, backend):
    add_invoices(backend)
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_billing(app, pilot)
        table = screen.query_one("#billing-invoices", DataTable)
        assert table.display and table.row_count == 2
        assert not screen.query_one("#billing-invoices-empty").display
        newest = [str(cell) for cell in table.get_row_at(0)]
        assert newest == ["2026-09", "12.50", "Payment failed", "•••• 4242", "—"]
        assert [str(cell) for cell in table.get_row_at(1)] == ["2026-08", "43.75", "Paid", "•••• 4242",
                                                               "2026-09-01"]
        caption = screen.query_one("#billing-lines-caption")
        assert "2026-09" in str(caption.content)
        lines = screen.query_one("#billing-lines", Static)
        # Tab from the buttons to the table, then down to the older invoice: its lines show.
        await pilot.press("tab", "tab", "tab")
        assert screen.focused is table
        await pilot.press("down")
        await wait_for(pilot, lambda: "2026-08" in str(caption.content))
        await pilot.press("enter")
        await pilot.pause()
        rendered = app.screen.query_one("#billing-lines", Static)
        assert rendered is lines and isinstance(app.screen, BillingScreen)


def rendered(static: Static) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(static.content)
    return console.export_text()


async def test_the_lines_name_a_failed_payment_and_server_text_is_not_markup(make_app, backend):
    add_invoices(backend)
    app = make_app("support@demo.example", section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_billing(app, pilot)
        table = screen.query_one("#billing-invoices", DataTable)
        assert table.row_count == 2
        assert screen.focused is table  # support has no buttons: the table takes the keys
        lines = screen.query_one("#billing-lines", Static)
        assert "Payment failed: Your card was declined." in rendered(lines)
        assert "Business card transcription" in rendered(lines)
        await pilot.press("down")
        await wait_for(pilot, lambda: "Prepaid credits applied [/]" in rendered(lines))
        assert "Premium audio transcription" in rendered(lines) and "Payment failed" not in rendered(lines)


async def test_the_command_palette_offers_the_card_actions(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_billing(app, pilot)
        titles = {command.title for command in screen.section_commands()}
        assert {"Edit Card", "Replace Card", "Remove Card"} <= titles and "Add Credit Card" not in titles


# --- the checks themselves ----------------------------------------------------------------------------


def test_the_checks_follow_the_servers_rules():
    now = datetime(2026, 6, 15, tzinfo=timezone.utc)
    good = {"cardholder_name": "A", "number": "4242 4242 4242 4242", "exp_month": "6", "exp_year": "2026",
            "cvc": "123", "line1": "1 Way", "line2": "", "city": "C", "region": "", "postal_code": "1",
            "country": "us"}
    assert check_values(good, ask_number=True, now=now) == {}
    assert luhn_ok("5555555555554444") and not luhn_ok("5555555555554445")
    assert check_values(good | {"exp_month": "5"}, ask_number=True, now=now).keys() == {"exp_month"}
    assert check_values(good | {"exp_year": "2025"}, ask_number=True, now=now).keys() == {"exp_year"}
    assert check_values(good | {"number": "4242-4242-4242-4242"}, ask_number=True, now=now) == {}
    assert check_values(good | {"number": "4242 4242 4242 424x"}, ask_number=True, now=now).keys() == {"number"}
    assert check_values(good | {"number": "4" * 20}, ask_number=True, now=now).keys() == {"number"}
    assert check_values(good | {"cvc": "12345"}, ask_number=True, now=now).keys() == {"cvc"}
    assert check_values(good | {"country": "U1"}, ask_number=True, now=now).keys() == {"country"}
    # Editing asks for neither the number nor the CVC.
    assert check_values(good | {"number": "", "cvc": ""}, ask_number=False, now=now) == {}
