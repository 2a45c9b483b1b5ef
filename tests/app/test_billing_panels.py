"""Billing → Auto-recharge and Notifications, by keys, against the real backend in-process."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Button, SelectionList, Static, Switch

from credits_tui.screens.billing import BillingScreen
from credits_tui.widgets.alerts_panel import AlertsPanel
from credits_tui.widgets.amount_input import MoneyInput
from credits_tui.widgets.auto_recharge_panel import AutoRechargePanel
from tests.support.pilot import notifications, open_billing, wait_for


async def open_panels(app, pilot) -> tuple[BillingScreen, AutoRechargePanel, AlertsPanel]:
    screen = await open_billing(app, pilot)
    rule, alerts = screen.query_one(AutoRechargePanel), screen.query_one(AlertsPanel)
    await wait_for(pilot, lambda: rule.rule is not None and alerts.settings is not None)
    return screen, rule, alerts


def message(panel, selector: str) -> str:
    return str(panel.query_one(selector, Static).content)


async def retype(pilot, field: MoneyInput, text: str) -> None:
    field.focus()
    await pilot.press("end", "ctrl+u", *text)


async def test_admin_turns_auto_recharge_off_and_on_with_new_amounts(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(80, 24)) as pilot:
        _, panel, _ = await open_panels(app, pilot)
        switch = panel.query_one("#ar-enabled", Switch)
        # The demo's rule, as the server has it.
        assert switch.value is True
        assert panel.query_one("#ar-threshold", MoneyInput).value == "500.00"
        assert panel.query_one("#ar-recharge_to", MoneyInput).value == "2,000.00"

        switch.focus()
        await pilot.press("enter")  # the switch turns off
        panel.query_one("#ar-save", Button).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: panel.rule is not None and not panel.rule.enabled)
        assert (await app.api.auto_recharge()).enabled is False

        switch.focus()
        await pilot.press("enter")
        await retype(pilot, panel.query_one("#ar-threshold", MoneyInput), "1,250")
        await retype(pilot, panel.query_one("#ar-recharge_to", MoneyInput), "3,000.50")
        await pilot.press("enter")  # Enter in an amount saves
        await wait_for(pilot, lambda: panel.rule is not None and panel.rule.enabled)
        rule = await app.api.auto_recharge()
        assert (rule.enabled, rule.threshold, rule.recharge_to) == (True, Decimal("1250.00"), Decimal("3000.50"))
        assert panel.query_one("#ar-threshold", MoneyInput).value == "1,250.00"


async def test_amounts_are_checked_as_typed_and_nothing_is_sent_while_wrong(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(80, 24)) as pilot:
        _, panel, _ = await open_panels(app, pilot)
        to = panel.query_one("#ar-recharge_to", MoneyInput)
        await retype(pilot, to, "400")  # not above the threshold of 500
        assert message(panel, "#ar-recharge_to-message") == "Recharge to an amount above the threshold."
        assert to.has_class("-invalid")
        await retype(pilot, panel.query_one("#ar-threshold", MoneyInput), "1,0")
        assert "commas" in message(panel, "#ar-threshold-message")
        await pilot.press("enter")
        await pilot.pause(0.2)
        rule = await app.api.auto_recharge()
        assert (rule.threshold, rule.recharge_to) == (Decimal("500.00"), Decimal("2000.00"))
        await retype(pilot, panel.query_one("#ar-threshold", MoneyInput), "100")
        assert not panel.query_one("#ar-threshold-message", Static).display
        assert not panel.query_one("#ar-recharge_to-message", Static).display
        await retype(pilot, to, "100.50")  # above, but less than the smallest charge above it
        assert message(panel, "#ar-recharge_to-message") == "Recharge to at least 1.00 credit above the threshold."


async def test_the_servers_refusal_shows_on_the_switch_it_is_about(make_app):
    # Other Co. has no card on file: the server refuses to turn auto-recharge on (409 card_required).
    app = make_app("other-admin@demo.example", section="billing")
    async with app.run_test(size=(80, 24)) as pilot:
        _, panel, _ = await open_panels(app, pilot)
        assert panel.query_one("#ar-enabled", Switch).value is False
        panel.query_one("#ar-enabled", Switch).focus()
        await pilot.press("enter")
        await retype(pilot, panel.query_one("#ar-threshold", MoneyInput), "100")
        await retype(pilot, panel.query_one("#ar-recharge_to", MoneyInput), "500")
        await pilot.press("enter")
        shown = panel.query_one("#ar-enabled-message", Static)
        await wait_for(pilot, lambda: "Add a credit card" in str(shown.content))
        assert shown.display and shown.has_class("-error")
        assert (await app.api.auto_recharge()).enabled is False


async def test_support_sees_both_panels_read_only(make_app):
    app = make_app("support@demo.example", section="billing")
    async with app.run_test(size=(80, 24)) as pilot:
        screen, rule, alerts = await open_panels(app, pilot)
        assert rule.query_one("#ar-threshold", MoneyInput).value == "500.00"
        assert alerts.query_one("#alerts-low_balance_threshold", MoneyInput).value == "250.00"
        assert not screen.query("#ar-save") and not screen.query("#alerts-save")
        editable = [*rule.query(MoneyInput), rule.query_one(Switch), *alerts.query(MoneyInput),
                    alerts.query_one(SelectionList)]
        assert all(widget.disabled for widget in editable)
        assert not any(widget in screen.focus_chain for widget in editable)
        recipients = alerts.query_one(SelectionList)
        assert sorted(recipients.selected) == [1, 4]  # the demo's admins, the server's default


async def test_alert_threshold_and_recipients_are_saved(make_app):
    app = make_app(section="billing")
    async with app.run_test(size=(80, 24)) as pilot:
        _, _, panel = await open_panels(app, pilot)
        users = {user.email: user.id for user in (await app.api.users()).items}
        recipients = panel.query_one(SelectionList)
        prompts = [str(recipients.get_option_at_index(i).prompt) for i in range(recipients.option_count)]
        assert any("Ada Admin" in p and "admin@demo.example" in p for p in prompts)
        assert sorted(recipients.selected) == sorted([users["admin@demo.example"], users["marketing@demo.example"]])

        await retype(pilot, panel.query_one(MoneyInput), "1,000")
        recipients.focus()
        # Untick Marco Marketing (the second user), tick Sam Support (the fourth), by keys.
        await pilot.press("home", "down", "space", "down", "down", "space")
        panel.query_one("#alerts-save", Button).focus()
        await pilot.press("enter")
        settings_saved = lambda: "Notification settings saved." in [n.message for n in app._notifications]  # noqa: E731
        await wait_for(pilot, settings_saved)
        saved = await app.api.notification_settings()
        assert saved.low_balance_threshold == Decimal("1000.00")
        assert sorted(saved.recipients) == sorted([users["admin@demo.example"], users["support@demo.example"]])

        await retype(pilot, panel.query_one(MoneyInput), "")  # empty: no low-balance alert
        await pilot.press("enter")
        await wait_for(pilot, lambda: panel.settings is not None and panel.settings.low_balance_threshold is None)
        assert (await app.api.notification_settings()).low_balance_threshold is None


async def test_letters_typed_into_an_amount_open_no_card_dialog(make_app):
    """Billing's own keys are letters (e edits the card, c replaces it, x removes it): typed
    into a threshold they are refused in place and open nothing."""
    app = make_app(section="billing")
    async with app.run_test(size=(80, 24)) as pilot:
        screen, panel, _ = await open_panels(app, pilot)
        threshold = panel.query_one("#ar-threshold", MoneyInput)
        await retype(pilot, threshold, "1e3cx")
        await pilot.pause(0.2)
        assert app.screen is screen
        assert threshold.value == "13"
        assert sum("cannot go in an amount" in note for note in notifications(app)) == 1
