"""The Textual app: four sections as modes, sign-in, keys, command palette, themes.

The app talks to the server only through ``api_client``; keyring and config files are
touched only in worker threads, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import Me, Role
from credits_tui.auth.profiles import DEFAULT_PROFILE, ConfigError, load_config, save_config
from credits_tui.auth.session import remember
from credits_tui.auth.tokens import TokenStore
from credits_tui.screens.billing import BillingScreen
from credits_tui.screens.buy import BuyScreen
from credits_tui.screens.help import HelpScreen
from credits_tui.screens.manage import ManageScreen
from credits_tui.screens.no_access import NoAccessScreen
from credits_tui.screens.sign_in import SignInScreen, SignedIn
from credits_tui.screens.status import StatusScreen

SECTIONS = {"status": "Status", "billing": "Billing", "buy": "Buy Credits", "manage": "Manage Credits"}


@dataclass
class Connection:
    """Where the app starts: a server, maybe a token already, and how to reach the server."""

    server: str | None = None
    email: str | None = None
    token: str | None = None
    remember_token: bool = True  # False for the demo and CREDITS_TUI_TOKEN: nothing to store
    transport: httpx.AsyncBaseTransport | None = None  # tests talk to the backend in-process


class CreditsApp(App[None]):
    TITLE = "Purchase Credits"
    CSS_PATH = "app.tcss"
    MODES = {"status": StatusScreen, "billing": BillingScreen, "buy": BuyScreen, "manage": ManageScreen}
    BINDINGS = [
        Binding("1,f1", "section('status')", "Status"),
        Binding("2,f2", "section('billing')", "Billing"),
        Binding("3,f3", "section('buy')", "Buy"),
        Binding("4,f4", "section('manage')", "Manage"),
        Binding("r", "refresh", "Refresh"),
        Binding("question_mark", "keys", "Keys", key_display="?"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, connection: Connection, *, store: TokenStore | None = None,
                 profile: str = DEFAULT_PROFILE) -> None:
        super().__init__()
        self.connection = connection
        self.store = store or TokenStore()
        self.profile = profile
        self.me: Me | None = None
        self._api: CreditsClient | None = None

    # --- session --------------------------------------------------------------------------

    @property
    def api(self) -> CreditsClient:
        assert self._api is not None, "no server yet"
        return self._api

    @property
    def signed_in(self) -> bool:
        return self.me is not None

    def _client_for(self, server: str, token: str | None) -> CreditsClient:
        return CreditsClient(server, token, transport=self.connection.transport)

    def on_mount(self) -> None:
        self._load_theme()
        if self.connection.server and self.connection.token:
            self._api = self._client_for(self.connection.server, self.connection.token)
            self.resume_session()
        else:
            self.push_screen(SignInScreen(self.connection.server, self.connection.email))

    @work(exclusive=True, group="session", exit_on_error=False)
    async def resume_session(self) -> None:
        try:
            me = await self.api.me()
        except errors.AuthenticationError:
            self._forget_token()
            self.push_screen(SignInScreen(self.connection.server, self.connection.email,
                                          notice="Your sign-in has expired. Sign in again."))
            return
        except errors.ApiError as error:
            self.push_screen(SignInScreen(self.connection.server, self.connection.email, notice=error.message))
            return
        await self._enter(me)

    async def on_signed_in(self, message: SignedIn) -> None:
        """The sign-in screen got a token: keep it, then show the sections."""
        old = self._api
        self._api = self._client_for(message.server, message.token)
        if old is not None:
            await old.aclose()
        self.connection.server, self.connection.email = message.server, message.me.email
        if self.connection.remember_token:
            self._keep_token(message.server, message.me.email, message.token)
        self.pop_screen()
        await self._enter(message.me)

    async def _enter(self, me: Me) -> None:
        first_time = self.me is None
        self.me = me
        self.sub_title = f"{me.account.name} · {me.email} ({me.role.value})"
        if me.role not in (Role.admin, Role.support):
            # The server says why, in the product's words: ask it rather than guess.
            try:
                await self.api.status()
                message = "This account cannot view Purchase Credits."
            except errors.ApiError as error:
                message = error.message
            await self.push_screen(NoAccessScreen(message))
        elif first_time:
            await self.switch_mode("status")
        elif hasattr(self.screen, "reload"):
            self.screen.reload()

    def session_expired(self) -> None:
        """A 401 mid-session: forget the token and ask to sign in again (once)."""
        if isinstance(self.screen, SignInScreen):
            return
        self._forget_token()
        self.push_screen(SignInScreen(self.connection.server, self.connection.email,
                                      notice="Your sign-in has expired or was revoked. Sign in again."))

    @work(thread=True, group="keyring", exit_on_error=False)
    def _keep_token(self, server: str, email: str, token: str) -> None:
        kept = self.store.set(server, email, token)
        try:
            config = load_config()
            remember(config, self.profile, server, email)
        except (ConfigError, OSError) as error:
            self.call_from_thread(self.notify, f"Could not save the profile: {error}", severity="warning",
                                  markup=False)
        if not kept and self.store.notice:
            self.call_from_thread(self.notify, self.store.notice, title="No keyring", severity="warning",
                                  timeout=10, markup=False)

    @work(thread=True, group="keyring", exit_on_error=False)
    def _forget_token(self) -> None:
        if self.connection.remember_token and self.connection.server and self.connection.email:
            self.store.delete(self.connection.server, self.connection.email)

    @work(exclusive=True, group="session", exit_on_error=False)
    async def sign_out(self) -> None:
        try:
            await self.api.sign_out()
        except errors.ApiError as error:
            self.notify(f"The server could not revoke the sign-in: {error.message}", severity="warning",
                        markup=False)
        self._forget_token()
        self.me = None  # closes the sections (see check_action) until someone signs in
        self.push_screen(SignInScreen(self.connection.server, self.connection.email,
                                      notice="Signed out."))

    async def on_unmount(self) -> None:
        if self._api is not None:
            await self._api.aclose()

    # --- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("section", "refresh"):
            return self.signed_in and self.me is not None and self.me.role in (Role.admin, Role.support)
        return True

    async def action_section(self, mode: str) -> None:
        if self.current_mode != mode:
            await self.switch_mode(mode)

    def action_refresh(self) -> None:
        if hasattr(self.screen, "reload"):
            self.screen.reload()

    def action_keys(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.check_action("section", ()):
            for mode, title in SECTIONS.items():
                yield SystemCommand(title, f"Show {title}", lambda mode=mode: self.run_action(f"section('{mode}')"))
            yield SystemCommand("Refresh", "Load the current section again", self.action_refresh)
        yield SystemCommand("Show keys", "Every key of this screen", self.action_keys)
        if self.signed_in:
            yield SystemCommand("Sign out", "Revoke this sign-in and forget it", self.sign_out)
        yield from getattr(screen, "commands", lambda: ())()

    # --- theme ----------------------------------------------------------------------------

    def _load_theme(self) -> None:
        try:
            theme = load_config().theme
        except ConfigError:
            return
        if theme and theme in self.available_themes:
            self.theme = theme

    def watch_theme(self, theme: str) -> None:
        if self.is_mounted:
            self._save_theme(theme)

    @work(thread=True, group="config", exclusive=True, exit_on_error=False)
    def _save_theme(self, theme: str) -> None:
        try:
            config = load_config()
            config.theme = theme
            save_config(config)
        except (ConfigError, OSError):
            pass  # a theme that is not remembered is no reason to interrupt anyone


def run_app(connection: Connection, *, profile: str = DEFAULT_PROFILE) -> None:
    CreditsApp(connection, profile=profile).run()


__all__ = ["CreditsApp", "Connection", "run_app"]
