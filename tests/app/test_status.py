
from textual.widgets import DataTable

from credits_tui.screens.sign_in import SignInScreen
from credits_tui.screens.status import StatusScreen
from credits_tui.widgets.money import BalanceDigits
from tests.support.pilot import wait_for


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
