"""Signing in and staying signed in: good and bad passwords, no keyring, roles, 401, outages."""

from __future__ import annotations

import gc

import httpx
import keyring.backends.fail
import pytest
from textual.widgets import Input, Static

from credits_tui.app import Connection, CreditsApp
from credits_tui.auth.profiles import load_config
from credits_tui.auth.tokens import SERVICE, TokenStore
from credits_tui.messages import SessionExpired
from credits_tui.screens.buy import BuyScreen
from credits_tui.screens.manage import ManageScreen
from credits_tui.screens.no_access import NoAccessScreen
from credits_tui.screens.sign_in import SignInScreen
from credits_tui.screens.status import StatusScreen
from credits_tui.screens.unreachable import UnreachableScreen
from credits_tui.widgets.error_banner import ErrorBanner
from credits_tui.widgets.section_tabs import SectionTabs
from tests.support.pilot import SERVER, sign_in, type_into, wait_for


def sign_in_shown(app) -> bool:
    """The sign-in screen is up and composed (a mode's screen composes just after it switches)."""
    return isinstance(app.screen, SignInScreen) and bool(app.screen.query("#notice"))


async def test_once_the_first_frame_is_shown_what_start_up_made_leaves_the_full_collections(make_app):
    """Full collections walk only what came after start-up (a typed search no longer waits for
    one walking every module and widget), and only the first app of a process freezes."""
    gc.unfreeze()  # the test run froze what its collection made (tests/conftest.py)
    try:
        app = make_app()
        async with app.run_test() as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
            frozen = gc.get_freeze_count()
            assert frozen > 10_000
        again = make_app()
        async with again.run_test() as pilot:
            await wait_for(pilot, lambda: isinstance(again.screen, StatusScreen))
            assert gc.get_freeze_count() <= frozen  # (a frozen object no longer referred to is still freed)
    finally:
        gc.freeze()


async def test_good_sign_in_keeps_the_token_in_the_keyring_only(make_app, memory_keyring, tmp_path):
    app = make_app(None, remember_token=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await sign_in(pilot, "admin@demo.example", "demo-password")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        await wait_for(pilot, lambda: bool(memory_keyring.entries))
        (service, entry), token = next(iter(memory_keyring.entries.items()))
        assert service == SERVICE and "admin@demo.example" in entry and SERVER in entry
        assert token.startswith("ct_")
        profile = load_config().profiles["default"]
        assert (profile.server, profile.email) == (SERVER, "admin@demo.example")
        written = [p.read_text() for p in tmp_path.rglob("*.toml")]
        assert written and not any(token in text for text in written)


async def test_a_wrong_password_is_said_plainly_and_nothing_is_kept(make_app, memory_keyring):
    app = make_app(None, remember_token=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await sign_in(pilot, "admin@demo.example", "not-the-password")
        problem = app.screen.query_one("#problem", Static)
        await wait_for(pilot, lambda: "not right" in str(problem.content))
        assert isinstance(app.screen, SignInScreen)
        assert app.screen.query_one("#password", Input).has_class("-invalid")
        assert memory_keyring.entries == {}


async def test_without_a_keyring_the_app_says_so_and_keeps_working(backend):
    store = TokenStore(keyring.backends.fail.Keyring())
    app = CreditsApp(Connection(server=SERVER, transport=httpx.ASGITransport(app=backend)), store=store)
    async with app.run_test(size=(120, 36)) as pilot:
        await sign_in(pilot, "admin@demo.example", "demo-password")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        await wait_for(pilot, lambda: any("keyring" in str(n.message).lower() for n in app._notifications))
        status = await app.api.status()
        assert status.account.name == "Demo Co."


async def test_a_member_sees_the_administrators_message_from_the_server(make_app):
    app = make_app("member@demo.example")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NoAccessScreen))
        text = str(app.screen.query_one("#denied", Static).content)
        assert "You must have administrative rights to view Purchase Credits" in text
        await pilot.press("4")  # the sections stay closed
        assert isinstance(app.screen, NoAccessScreen)


async def test_a_revoked_token_mid_session_leads_back_to_sign_in(make_app, backend):
    app = make_app("admin@demo.example", remember_token=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        await app.api.sign_out()  # as if revoked elsewhere
        app.api.token = app.connection.token
        await pilot.press("r")
        await wait_for(pilot, lambda: sign_in_shown(app))
        assert "expired or was revoked" in str(app.screen.query_one("#notice", Static).content)
        await sign_in(pilot, "admin@demo.example", "demo-password")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        assert (await app.api.me()).email == "admin@demo.example"


class Switchable(httpx.AsyncBaseTransport):
    """The real backend, or a dead server when ``down`` is set."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("Connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def test_a_start_on_a_revoked_token_shows_the_next_sign_ins_figures(make_app, backend):
    # The start asks for Status's figures beside the check of the saved token: answers asked
    # with a token that did not get in must not be what Status shows after the sign-in.
    app = make_app("admin@demo.example")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=backend), base_url=SERVER) as raw:
        revoked = await raw.delete("/api/v1/auth/tokens/current",
                                   headers={"Authorization": f"Bearer {app.connection.token}"})
        assert revoked.status_code == 204
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: sign_in_shown(app))
        await sign_in(pilot, "admin@demo.example", "demo-password")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.loaded)
        assert app.screen.query_one(ErrorBanner).visible_message is None


async def test_a_member_who_signs_out_and_in_as_an_admin_sees_status(make_app):
    app = make_app("member@demo.example")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NoAccessScreen))
        app.sign_out()
        await wait_for(pilot, lambda: sign_in_shown(app))
        await sign_in(pilot, "admin@demo.example", "demo-password")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.loaded)
        assert app.screen.query_one(ErrorBanner).visible_message is None


async def test_server_down_shows_a_readable_error_and_retry_recovers(make_app):
    app = make_app()
    transport = Switchable(app.connection.transport)
    app.connection.transport = transport
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        transport.down = True
        await pilot.press("r")
        banner = app.screen.query_one(ErrorBanner)
        await wait_for(pilot, lambda: banner.visible_message is not None, timeout=10)
        assert "Cannot reach the server" in banner.visible_message
        transport.down = False
        await pilot.click("#retry")
        # Status asks several questions again (figures, prices, activity, alerts): give a busy
        # machine the time a person would.
        await wait_for(pilot, lambda: banner.visible_message is None, timeout=15)
        assert isinstance(app.screen, StatusScreen)


async def test_sign_out_revokes_the_token_and_forgets_it(make_app, memory_keyring, backend):
    app = make_app(None, remember_token=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await sign_in(pilot, "admin@demo.example", "demo-password")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and bool(memory_keyring.entries))
        token = next(iter(memory_keyring.entries.values()))
        app.sign_out()
        await wait_for(pilot, lambda: sign_in_shown(app) and not memory_keyring.entries)
        assert "Signed out" in str(app.screen.query_one("#notice", Static).content)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=backend), base_url=SERVER) as raw:
            response = await raw.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        await pilot.press("2")  # the sections are closed until someone signs in again
        assert isinstance(app.screen, SignInScreen)


def sign_in_screens(app) -> int:
    """Sign-in screens anywhere in the app, in every mode's stack."""
    return sum(isinstance(screen, SignInScreen) for stack in app._screen_stacks.values() for screen in stack)


async def token_works(backend, token: str) -> bool:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=backend), base_url=SERVER) as raw:
        response = await raw.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 200


async def test_a_revoked_token_needs_one_sign_in_and_leaves_no_stale_screen(make_app, backend, memory_keyring):
    app = make_app("admin@demo.example", remember_token=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        await pilot.press("3")
        await wait_for(pilot, lambda: app.current_mode == "buy")
        await app.api.sign_out()  # as if revoked elsewhere
        app.api.token = app.connection.token
        await pilot.press("escape", "r")
        await wait_for(pilot, lambda: sign_in_shown(app))
        for key in ("f2", "f4", "f1"):  # the sections stay closed: no second sign-in behind them
            await pilot.press(key)
            await pilot.pause(0.1)
            assert isinstance(app.screen, SignInScreen)
        app.post_message(SessionExpired())  # another request of an old screen fails too
        await pilot.pause(0.2)
        assert sign_in_screens(app) == 1
        await sign_in(pilot, "admin@demo.example", "demo-password")
        await wait_for(pilot, lambda: isinstance(app.screen, BuyScreen))  # back where they were
        assert sign_in_screens(app) == 0
        for key in ("1", "2", "4"):
            await pilot.press(key)
            await pilot.pause(0.2)
            assert not isinstance(app.screen, SignInScreen)
        await wait_for(pilot, lambda: bool(memory_keyring.entries))
        assert await token_works(backend, next(iter(memory_keyring.entries.values())))


async def test_a_replaced_token_is_revoked_on_the_server(make_app, backend):
    app = make_app("admin@demo.example", remember_token=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        old = app.connection.token
        app.post_message(SessionExpired())  # the app asks again although the old token still works
        await wait_for(pilot, lambda: sign_in_shown(app))
        await sign_in(pilot, "admin@demo.example", "demo-password")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        assert app.api.token != old and await token_works(backend, app.api.token)
        for _ in range(200):  # the old token is revoked in the background: within seconds
            if not await token_works(backend, old):
                break
            await pilot.pause(0.05)
        assert not await token_works(backend, old)


async def test_server_down_at_start_shows_retry_not_the_password_prompt(make_app):
    app = make_app()
    transport = Switchable(app.connection.transport)
    transport.down = True
    app.connection.transport = transport
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, UnreachableScreen)
                       and any("Trying again by itself" in str(next_try.content)
                               for next_try in app.screen.query("#unreachable-next").results(Static)),
                       timeout=15)
        assert "Cannot reach the server" in str(app.screen.query_one("#unreachable-why", Static).content)
        assert sign_in_screens(app) == 0
        transport.down = False
        await pilot.click("#unreachable-retry")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen), timeout=15)


async def test_server_down_at_start_is_tried_again_by_itself(make_app):
    app = make_app()
    app.retry_delays = (0.3,)
    transport = Switchable(app.connection.transport)
    transport.down = True
    app.connection.transport = transport
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, UnreachableScreen), timeout=15)
        transport.down = False
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen), timeout=15)


async def test_sign_in_fits_80_by_24_and_escape_does_not_quit(make_app):
    app = make_app(None)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: sign_in_shown(app))
        box = app.screen.query_one("#sign-in")
        await pilot.pause(0.1)
        assert box.region.y >= 0 and box.region.bottom <= 23 and box.region.right <= 80
        assert app.screen.query_one("#submit").region.bottom <= 23
        await pilot.press("escape", "escape")
        await pilot.pause(0.1)
        assert app.is_running and isinstance(app.screen, SignInScreen)


async def test_a_server_without_a_scheme_is_taken_as_http(make_app):
    app = make_app(None)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: sign_in_shown(app))
        app.screen.query_one("#server", Input).value = "localhost:1"
        await type_into(pilot, "#email", "admin@demo.example")
        await type_into(pilot, "#password", "demo-password")
        await pilot.press("enter")
        # The test transport reaches the backend whatever the address: what counts is the URL.
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))
        assert app.connection.server == "http://localhost:1"


async def test_an_app_opened_at_a_section_shows_it_after_sign_in_and_marks_its_tab(make_app):
    app = make_app(None, section="manage")  # ``credits-tui --section manage``
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: sign_in_shown(app))
        await sign_in(pilot, "admin@demo.example", "demo-password")
        await wait_for(pilot, lambda: isinstance(app.screen, ManageScreen))
        assert app.screen.query_one(SectionTabs).active == "section-manage"
        assert not any(isinstance(screen, StatusScreen) for screen in app.screen_stack)
        await pilot.press("1")  # the other sections are a key away, as ever
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))


def test_an_unknown_section_is_refused(backend):
    with pytest.raises(ValueError, match="no section 'nowhere'"):
        CreditsApp(Connection(server=SERVER, transport=httpx.ASGITransport(app=backend)), section="nowhere")
