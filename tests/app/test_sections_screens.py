"""Status, Billing and Manage Credits as a new user sees them at 80x24 (issue 7's smaller points)."""

from __future__ import annotations

import asyncio

from textual.widgets import Button, Input, LoadingIndicator, Select, Static
from textual.widgets._select import SelectOverlay

from credits_tui.screens.card_form import CardFormScreen
from credits_tui.screens.status import StatusScreen
from credits_tui.widgets.money import BalanceDigits
from credits_tui.widgets.transaction_table import TransactionTable
from tests.support.pilot import all_time, choose, open_billing, open_form, open_manage, settle, wait_for


async def open_status(app, pilot) -> StatusScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.loaded)
    return app.screen


# --- Status ---------------------------------------------------------------------------------


async def test_refresh_on_status_keeps_the_figures_while_it_loads(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_status(app, pilot)
        balance = screen.query_one("#balance", BalanceDigits).value
        release = asyncio.Event()
        original = app.api.status

        async def slow_status():
            await release.wait()
            return await original()

        app.api.status = slow_status
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.refreshing)
        body = screen.query_one("#status-body")
        assert not body.loading  # no "Loading…" over the body: the old figures stay
        assert screen.query_one("#balance", BalanceDigits).value == balance != ""
        assert screen.query_one("#status-refreshing", LoadingIndicator).display
        assert screen.query_one("#recent", TransactionTable).row_count == 8
        release.set()
        await wait_for(pilot, lambda: not screen.refreshing)
        assert not screen.query_one("#status-refreshing", LoadingIndicator).display


async def test_status_names_the_card_and_types_as_billing_does(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_status(app, pilot)
        assert str(screen.query_one("#card", Static).content).startswith("Visa ending 4242\n")
        table = screen.query_one("#recent", TransactionTable)
        types = [str(table.get_row_at(row)[1]) for row in range(table.row_count)]
        assert types and all(text[0].isupper() for text in types)
        assert "usage" not in types  # usage reads as its process (``Postcard``)


# --- Billing --------------------------------------------------------------------------------


async def test_the_removal_answer_is_gone_after_leaving_billing(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_billing(app, pilot)
        note = screen.query_one("#billing-removal-note", Static)
        await pilot.press("x")
        await wait_for(pilot, lambda: note.display)
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        await pilot.press("2")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.pause()
        assert not note.display and str(note.content) == ""


async def test_the_card_form_has_cancel_left_save_right_over_the_dimmed_section(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_billing(app, pilot)
        await open_form(app, pilot, "e")
        dialog = app.screen
        assert isinstance(dialog, CardFormScreen)
        cancel, save = dialog.query_one("#card-cancel", Button), dialog.query_one("#card-save", Button)
        assert cancel.region.right <= save.region.x
        assert "Visa ending 4242" in str(dialog.query_one("#card-intro", Static).content)
        assert dialog.styles.background.a < 1  # see-through: Billing stays visible behind
        dialog_box = dialog.query_one("#card-dialog").region
        assert dialog_box.y >= 1 and dialog_box.bottom <= 23  # Billing's header and footer rows show
        assert cancel.region.bottom <= dialog_box.bottom  # and the buttons are still in view


async def test_an_invalid_card_field_keeps_its_text_visible(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_billing(app, pilot)
        form = await open_form(app, pilot, "c")
        await pilot.press(*"4242424242424241", "ctrl+s")
        await wait_for(pilot, lambda: "number" in form.errors)
        number = form.input("number")
        # one line high with its text: no border takes the line the digits are on
        assert number.has_class("-invalid") and number.content_region.height == 1
        assert number.styles.border_top[0] in ("", "none")


# --- Manage Credits ---------------------------------------------------------------------------


def amount_in_view(table: TransactionTable) -> bool:
    right = 0
    for column in table.ordered_columns:
        right += column.get_render_width(table)
        if column.key.value == "amount":
            return right <= table.scrollable_content_region.width
    raise AssertionError("no amount column")


async def test_the_amount_column_stays_in_view_at_60_columns(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(60, 20)) as pilot:
        screen = await open_manage(app, pilot)
        table = screen.query_one(TransactionTable)
        await pilot.pause()  # the columns follow the table's last resize
        await wait_for(pilot, lambda: table.row_count > 0 and amount_in_view(table), timeout=2)


async def test_types_are_capitalised_and_descriptions_end_in_an_ellipsis(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        await choose(pilot, screen, "#type", "purchase")
        table = screen.query_one(TransactionTable)
        assert table.row_count and all(str(table.get_row_at(r)[1]).startswith("Purchase")
                                       for r in range(table.row_count))
        await choose(pilot, screen, "#type", "")
        width = table.columns["description"].width
        long_rows = [r for r, item in enumerate(table.items[:10]) if len(item.description) > width]
        assert long_rows, "the seed has descriptions longer than the column"
        line = table.render_line(1 + long_rows[0]).text.rstrip()  # line 0 is the header
        assert line.endswith("…")


async def test_all_time_is_named_once_and_the_page_bar_texts_keep_apart(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        window = screen.query_one("#window-info", Static)
        assert str(window.content) == "All time"
        screen.query_one("#search", Input).value = "zzzzqqqq"
        await settle(pilot, screen)
        info = screen.query_one("#page-info", Static)
        assert screen.pager.line == "No transactions match these filters."
        text_end = info.content_region.x + len(screen.pager.line)
        assert text_end < window.content_region.x  # a gap between "…filters." and "All time"


async def test_drop_down_options_take_one_line_each_at_80_columns(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_manage(app, pilot)
        select = screen.query_one("#user", Select)
        select.focus()
        await pilot.press("enter")
        overlay = select.query_one(SelectOverlay)
        await wait_for(pilot, lambda: overlay.display and overlay.option_count > 2)
        await pilot.pause()
        assert overlay.virtual_size.height == overlay.option_count
