"""A token that expires (server clock moved past its lifetime) sends the app back to sign-in
exactly once, forgets the dead token, and a new sign-in carries on."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from textual.widgets import Static

from credits_tui.auth.tokens import SERVICE, entry_name
from credits_tui.backend.config import Settings
from credits_tui.screens.sign_in import SignInScreen
from credits_tui.screens.status import StatusScreen
from tests.support.pilot import SERVER, sign_in, wait_for

TOKEN_TTL = Settings().token_ttl


def sign_in_screens(app) -> int:
    return sum(isinstance(screen, SignInScreen) for screen in app.screen_stack)


async def test_an_expired_token_returns_to_sign_in_once_mid_session(make_app, memory_keyring):
    app = make_app("admin@demo.example", remember_token=True)
    saved = (SERVICE, entry_name(SERVER, "admin@demo.example"))
    memory_keyring.entries[saved] = app.connection.token  # as if kept by an earlier sign-in
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        with time_machine.travel(TOKEN_TTL + timedelta(minutes=1)):
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen))
            await pilot.pause(0.3)  # every request of the refresh has had its 401 by now
            assert sign_in_screens(app) == 1
            assert "expired" in str(app.screen.query_one("#notice", Static).content)
            await wait_for(pilot, lambda: saved not in memory_keyring.entries)  # the dead token is forgotten

            await sign_in(pilot, "admin@demo.example", "demo-password")
            await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
            assert sign_in_screens(app) == 0
            await wait_for(pilot, lambda: saved in memory_keyring.entries)
            await pilot.press("r")
            await pilot.pause(0.3)
            assert isinstance(app.screen, StatusScreen), "the new token is good at the new time"


async def test_a_token_that_expired_while_the_app_was_closed_asks_to_sign_in_once(make_app):
    app = make_app("admin@demo.example")
    with time_machine.travel(TOKEN_TTL + timedelta(days=1)):
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen))
            await pilot.pause(0.3)
            assert sign_in_screens(app) == 1
            assert "expired" in str(app.screen.query_one("#notice", Static).content)
