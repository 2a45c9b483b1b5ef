"""Keys, the tab bar, the footer and dialogs: a person always knows where they are, and no run
of keys without ``y`` or the Buy button ever buys."""

from __future__ import annotations

from decimal import Decimal

from textual import events
from textual.color import Color
from textual.command import CommandPalette
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey
from textual.widgets._header import HeaderTitle

from credits_tui.screens.audit import AuditScreen
from credits_tui.screens.billing import BillingScreen
from credits_tui.screens.buy import BuyScreen
from credits_tui.screens.confirm_purchase import ConfirmPurchase
from credits_tui.screens.help import HelpScreen
from credits_tui.screens.manage import ManageScreen
from credits_tui.screens.status import StatusScreen
from credits_tui.sections import SECTIONS
from credits_tui.widgets.amount_input import AmountInput
from credits_tui.widgets.section_tabs import SectionTabs
from tests.support.pilot import (
    balance,
    open_buy,
    open_form,
    open_manage,
    purchase_count,
    sign_in,
    text_of,
    type_text,
    wait_for,
)

SCREENS = {"status": StatusScreen, "billing": BillingScreen, "buy": BuyScreen, "manage": ManageScreen,
           "audit": AuditScreen}


async def shows(pilot, mode: str) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.current_mode == mode and isinstance(app.screen, SCREENS[mode])
                   and bool(app.screen.query(SectionTabs)))


async def test_4_enter_enter_on_buy_buys_nothing(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_buy(app, pilot)
        before, purchases = await balance(app), await purchase_count(app)
        await pilot.press("4", "enter")  # meant "Manage", then Enter, Enter
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        assert app.screen.focused is app.screen.query_one("#cancel")
        await pilot.press("enter", "enter", "enter")
        await wait_for(pilot, lambda: app.screen is screen and "nothing was bought" in text_of(screen, "#outcome"))
        await pilot.pause(0.3)
        assert await balance(app) == before
        assert await purchase_count(app) == purchases


async def test_the_buy_button_of_the_dialog_buys(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_buy(app, pilot)
        before = await balance(app)
        await type_text(pilot, "1,000.50")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        cancel, buy = app.screen.query("#confirm-buttons Button")
        assert (cancel.id, buy.id) == ("cancel", "confirm")  # Cancel left, Buy right
        assert cancel.region.x < buy.region.x
        await pilot.press("tab", "enter")  # choosing Buy on purpose
        await wait_for(pilot, lambda: "Bought 1,000.50 credits" in text_of(screen, "#outcome"))
        assert await balance(app) == before + Decimal("1000.50")


async def test_f_keys_switch_sections_from_the_amount_field(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_buy(app, pilot)
        field = screen.query_one("#amount", AmountInput)
        await type_text(pilot, "12")
        assert screen.focused is field
        await pilot.press("f4")
        await shows(pilot, "manage")
        await pilot.press("f3")
        await shows(pilot, "buy")
        await pilot.pause()
        assert screen.focused is field and field.value == "12"
        for key, mode in (("f2", "billing"), ("f1", "status")):
            await pilot.press("f3")
            await shows(pilot, "buy")
            await pilot.pause()
            await pilot.press(key)
            await shows(pilot, mode)


async def test_escape_leaves_the_field_and_the_digits_switch_sections(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_buy(app, pilot)
        field = screen.query_one("#amount", AmountInput)
        for digit, mode in (("4", "manage"), ("2", "billing"), ("1", "status")):
            await pilot.pause()
            assert screen.focused is field
            await pilot.press("escape")
            assert screen.focused is None
            await pilot.press(digit)
            await shows(pilot, mode)
            await pilot.press("f3")
            await shows(pilot, "buy")
        assert field.value == ""  # no digit was typed into it


async def test_the_tab_bar_names_every_section_and_marks_the_current_one(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await shows(pilot, "status")
        for section in SECTIONS:
            await pilot.press(section.keys[1])
            await shows(pilot, section.mode)
            tabs = app.screen.query_one(SectionTabs)
            labels = [str(tab.label) for tab in tabs.query("Tab")]
            assert labels == ["1 Status", "2 Billing", "3 Buy Credits", "4 Manage Credits", "5 Audit"]
            assert tabs.active == f"section-{section.mode}"
            active = tabs.active_tab
            assert active is not None and str(active.label) == f"{section.number} {section.title}"
            assert tabs.region.right <= 80 and active.region.right <= 80
        await pilot.click("#section-billing")  # a click switches too
        await shows(pilot, "billing")
        assert app.screen.query_one(SectionTabs).active == "section-billing"


async def test_the_footer_shows_question_mark_within_80_columns(make_app):
    # One session visits every section in turn: each section's screen has its own footer.
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await shows(pilot, "status")

        def keys() -> dict[str, FooterKey]:
            return {key.key: key for key in app.screen.query(FooterKey)}

        for number, section in enumerate(SECTIONS, start=1):
            await pilot.press(f"f{number}")
            await shows(pilot, section.mode)
            await pilot.pause(0.3)
            # Laid out: in a footer too narrow the keys past column 80 have no region at all.
            await wait_for(pilot, lambda: any(key.region.width for key in keys().values()))
            await pilot.pause(0.2)
            question = keys().get("question_mark")
            assert question is not None, (section.mode, sorted(keys()))
            assert question.region.width > 0 and question.region.right <= 80, section.mode
            # The section digits are on the tab bar, not repeated in the footer.
            assert not {"1", "2", "3", "4", "5"} & set(keys()), section.mode


async def test_a_dialog_dims_the_screen_behind_it(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_buy(app, pilot)
        await type_text(pilot, "25")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.pause(0.2)
        assert app.screen.styles.background.a < 1  # see-through: the screen behind is drawn, dimmed
        picture = app.export_screenshot()
        assert "Manage&#160;Credits" in picture or "Manage Credits" in picture  # the tab bar behind
        await pilot.press("escape", "escape", "question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.2)
        assert app.screen.styles.background.a < 1


async def test_an_invalid_field_keeps_its_text_visible_after_sign_in_was_shown(make_app):
    app = make_app(None)
    async with app.run_test(size=(120, 36)) as pilot:
        await sign_in(pilot, "admin@demo.example", "demo-password")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, BillingScreen) and app.screen.loaded)
        form = await open_form(app, pilot, "e")
        field = form.query(Input).first()
        field.add_class("-invalid")
        await pilot.pause(0.2)
        assert field.styles.border_top[0] != "tall"
        assert field.content_region.height >= 1 and field.value  # what was typed still shows


async def test_the_palette_has_one_keys_entry_and_help_lists_only_what_works(make_app):
    app = make_app("support@demo.example")
    async with app.run_test(size=(120, 36)) as pilot:
        await shows(pilot, "status")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert titles.count("Keys") == 1 and "Show keys" not in titles
        for key, mode in (("2", "billing"), ("3", "buy")):
            await pilot.press(key)
            await shows(pilot, mode)
            await pilot.pause(0.3)
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            listed = {row.what for row in app.screen._rows}
            assert {"Refresh", "Keys"} <= listed and any(what.startswith("Status") for what in listed)
            assert not {"Add card", "Edit card", "Replace card", "Remove card", "Buy"} & listed, listed
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_help_lists_the_card_keys_to_an_admin(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await shows(pilot, "status")
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, BillingScreen) and app.screen.loaded)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        listed = {row.what for row in app.screen._rows}
        assert "Edit card" in listed and "Keys" in listed


async def test_old_results_on_buy_are_gone_when_you_come_back(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_buy(app, pilot)
        await type_text(pilot, "3")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y")
        outcome = screen.query_one("#outcome", Static)
        await wait_for(pilot, lambda: "Bought 3.00 credits" in str(outcome.content))
        await pilot.press("f1")
        await shows(pilot, "status")
        await pilot.press("f3")
        await shows(pilot, "buy")
        await pilot.pause(0.2)
        assert not outcome.display


async def test_an_amount_left_on_buy_is_replaced_by_what_is_typed_on_return(make_app):
    """Typing after coming back added to the old amount: "10" left, "5" typed asked for 105.00."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_buy(app, pilot)
        field = screen.query_one("#amount", AmountInput)
        await type_text(pilot, "10")
        await pilot.press("f1")
        await shows(pilot, "status")
        await pilot.press("f3")
        await shows(pilot, "buy")
        await pilot.pause(0.2)
        assert field.value == "10" and app.focused is field  # still there, to finish or replace
        await type_text(pilot, "5")
        assert field.value == "5"
        # Back from a dialog over the screen (the help), typing goes on where it was.
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await type_text(pilot, "0")
        assert field.value == "50"


async def test_a_theme_chosen_before_a_sections_first_visit_styles_that_section(make_app):
    """A section's screen is made on its first visit and styled then, by the stylesheet of the
    theme chosen by that time (the app does not restyle everything for a new screen)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await shows(pilot, "status")
        dark = app.screen.styles.background
        app.theme = "textual-light"
        await pilot.pause()
        light = Color.parse(app.get_theme("textual-light").background)
        assert app.screen.styles.background == light != dark
        for key, mode in (("4", "manage"), ("2", "billing")):
            await pilot.press(key)
            await shows(pilot, mode)
            assert app.screen.styles.background == light


async def test_a_section_shown_again_follows_a_theme_chosen_and_a_focus_lost_while_it_was_hidden(make_app):
    """A section is not restyled in full each time it is shown again, so what changed while it
    was hidden must still reach it: the theme, and the app's focus (the header fades without it)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await shows(pilot, "status")
        await pilot.press("4")
        await shows(pilot, "manage")
        await pilot.press("1")
        await shows(pilot, "status")
        app.theme = "textual-light"
        await pilot.pause()
        await pilot.press("4")
        await shows(pilot, "manage")
        assert app.screen.styles.background == Color.parse(app.get_theme("textual-light").background)

        def title_opacity() -> float:
            return app.screen.query_one(HeaderTitle).styles.text_opacity

        assert title_opacity() == 1.0
        app.post_message(events.AppBlur())  # the terminal loses focus
        await wait_for(pilot, lambda: title_opacity() == 0.5)
        await app.run_action("section('status')")  # switched without a key (a key gives focus back)
        await shows(pilot, "status")
        assert title_opacity() == 0.5
        app.post_message(events.AppFocus())
        await wait_for(pilot, lambda: title_opacity() == 1.0)
        await pilot.press("4")  # Manage was hidden while the app had no focus
        await shows(pilot, "manage")
        assert title_opacity() == 1.0


async def test_the_palette_goes_to_any_section_from_any_section(make_app):
    """The palette opens as a dialog over the section: its section entries were missing there."""
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await shows(pilot, "status")
        for words, mode in (("audit", "audit"), ("buy credits", "buy"), ("manage credits", "manage"),
                            ("billing", "billing"), ("status", "status")):
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
            await type_text(pilot, words)
            await pilot.pause(0.5)  # the palette searches as it is typed
            await pilot.press("enter")
            await shows(pilot, mode)


async def test_every_key_hint_of_manage_credits_fits_80_columns_beside_the_palette(make_app):
    """With the table focused, Manage Credits has the most key hints; Quit used to run under
    the palette's, and Chart with it."""
    app = make_app(section="manage")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_manage(app, pilot)
        screen.table.focus()
        await pilot.pause(0.3)
        keys = {key.key: key for key in screen.query(FooterKey)}
        palette = keys.pop("ctrl+p")
        assert {"enter", "slash", "n", "p", "e", "c", "ctrl+q", "question_mark"} <= set(keys)
        for key in keys.values():
            assert key.region.width > 0 and key.region.right <= palette.region.x, (key.key, key.region)
