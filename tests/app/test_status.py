"""Status: the balance, card and recent activity, and what the start asks the server for."""

from __future__ import annotations

from textual.widgets import DataTable

from credits_tui.screens.sign_in import SignInScreen
from credits_tui.screens.status import StatusScreen
from credits_tui.widgets.money import BalanceDigits
from credits_tui.widgets.usage_chart import UsageChart
from tests.support.pilot import wait_for
from tests.support.transports import recording


async def test_status_shows_the_balance_card_and_recent_activity(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen)
                       and app.screen.query_one("#recent", DataTable).row_count > 0)
        status = await app.api.status()
        digits = app.screen.query_one("#balance", BalanceDigits)
        assert digits.value == f"{status.purchase_credits:,.2f}"
        assert "ending 4242" in str(app.screen.query_one("#card").content)
        assert app.screen.query_one("#recent", DataTable).row_count == 8


async def test_without_a_token_the_app_asks_to_sign_in(make_app):
    app = make_app(None)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SignInScreen)


async def test_the_start_asks_for_each_figure_once_and_draws_the_chart_after_the_balance(make_app):
    app = make_app()
    counting = recording(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.loaded)
        await wait_for(pilot, lambda: "Loading usage" not in app.screen.query_one("#usage-chart", UsageChart).legend)
        # The header's warnings come from Status's own answers: nothing is asked twice.
        asked = ("/me", "/account/status", "/credits/prices", "/billing/notifications")
        assert {path: counting.paths[path] for path in asked} == dict.fromkeys(asked, 1)
