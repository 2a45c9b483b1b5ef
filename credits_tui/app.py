"""The Textual app: the sections as modes, sign-in, keys, command palette, themes.

The app talks to the server only through ``api_client``; keyring and config files are
touched only in worker threads, never on the event loop. While nobody is signed in (or the
server cannot be reached) one "gate" screen stands in for the sections, in a mode of its
own: there is never more than one sign-in screen, so one sign-in is always enough.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import httpx
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import Input

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import Me, Role
from credits_tui.auth.profiles import DEFAULT_PROFILE, ConfigError, load_config, save_config
from credits_tui.auth.session import remember
from credits_tui.auth.tokens import TokenStore
from credits_tui.collector import freeze_what_start_up_made
from credits_tui.messages import SessionExpired
from credits_tui.screens.base import CreditsScreen
from credits_tui.screens.help import HelpScreen, KeyRow, keys_of
from credits_tui.screens.no_access import NoAccessScreen
from credits_tui.screens.sign_in import SignedIn, SignInScreen
from credits_tui.screens.unreachable import UnreachableScreen
from credits_tui.sections import SECTIONS, Section, section_for
from credits_tui.session import Session
from credits_tui.widgets.section_tabs import SectionTabs

# The screens that stand in for the sections, each in a mode of its own while it is shown.
SIGN_IN, UNREACHABLE, NO_ACCESS = "sign-in", "unreachable", "no-access"
GATES = (SIGN_IN, UNREACHABLE, NO_ACCESS)
RETRY_DELAYS = (2.0, 4.0, 8.0, 15.0, 30.0)  # seconds between tries while the server is down


def section_screen(section: Section) -> type[CreditsScreen]:
    """The section's screen class, imported when the section is first shown."""
    module, name = section.screen.split(":")
    screen: type[CreditsScreen] = getattr(importlib.import_module(module), name)
    return screen


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
    # Every screen's stylesheet (each beside its screen, scoped to it) is read at start. Textual
    # reads a screen's own CSS_PATH when the screen first appears, and then parses all the CSS
    # again and restyles the whole app: 37-60 ms and 26-52 ms of CPU at every first visit of a
    # section or dialog, Status's at start included.
    CSS_PATH = ["app.tcss", *sorted(Path(__file__).parent.glob("screens/*.tcss"))]
    BINDINGS = [
        Binding("question_mark", "keys", "Keys", key_display="?"),
        # F-keys work in text fields too (priority); digits only where they are not typed.
        *(Binding(section.keys[1], f"section('{section.mode}')", section.title, priority=True, show=False)
          for section in SECTIONS),
        *(Binding(section.keys[0], f"section('{section.mode}')", section.title, show=False)
          for section in SECTIONS),
        Binding("escape", "leave_field", "Leave the field", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]
    # Seconds between automatic tries while the server cannot be reached (the last repeats).
    retry_delays: tuple[float, ...] = RETRY_DELAYS

    def __init__(self, connection: Connection, *, store: TokenStore | None = None,
                 profile: str = DEFAULT_PROFILE, section: str = SECTIONS[0].mode) -> None:
        super().__init__()
        if section_for(section) is None:
            raise ValueError(f"no section {section!r}")
        self.connection = connection
        self.store = store or TokenStore()
        self.profile = profile
        self._session: Session | None = None  # one per server; the section screens share it
        self._first_section = section  # where a user's first sign-in opens
        self._section = section  # where a sign-in returns to
        self._sections_for: int | None = None  # the user the section screens were made for
        self._gates: set[str] = set()  # the gate modes that exist now (at most one once settled)
        self._shown: set[str] = set()  # the sections shown since their screens were made

    # --- session --------------------------------------------------------------------------

    @property
    def api(self) -> CreditsClient:
        assert self._session is not None, "no server yet"
        return self._session.client

    @property
    def me(self) -> Me | None:
        return self._session.me if self._session is not None else None

    @me.setter
    def me(self, me: Me | None) -> None:
        assert self._session is not None, "no server yet"
        self._session.me = me

    @property
    def signed_in(self) -> bool:
        return self.me is not None

    @property
    def sections_open(self) -> bool:
        """A user who may see the sections is signed in, and no gate screen stands in front."""
        return (self.me is not None and self.me.role in (Role.admin, Role.support)
                and self.current_mode not in GATES)

    def _client_for(self, server: str, token: str | None) -> CreditsClient:
        return CreditsClient(server, token, transport=self.connection.transport)

    def on_ready(self) -> None:
        freeze_what_start_up_made()

    def add_mode(self, mode: str, base_screen: str | Callable[[], Screen[Any]]) -> None:
        """Textual's ``add_mode``, but a mode's first screen counts as styled by the CSS as it is.

        Textual takes a new screen for one styled before any CSS refresh, so making a mode's
        first screen re-parses every stylesheet and restyles the whole app, twice, although
        nothing changed: the screen is styled as it mounts, by the stylesheet as it is then.
        Skipping that took the first visit to Manage from 807–846 to 732–755 ms of CPU.
        """
        if callable(base_screen):
            make = base_screen

            def made() -> Screen[Any]:
                screen = make()
                screen._css_update_count = self._css_update_count  # Textual's own bookkeeping
                return screen

            base_screen = made
        super().add_mode(mode, base_screen)

    async def on_mount(self) -> None:
        self._load_theme()
        if self.connection.server and self.connection.token:
            self._session = Session(self._client_for(self.connection.server, self.connection.token))
            self.resume_session()
        else:
            await self._ask_sign_in(None)

    @work(exclusive=True, group="session", exit_on_error=False)
    async def resume_session(self) -> None:
        """Check the saved token; while the server cannot be reached, say so and try again."""
        for attempt in count():
            try:
                me = await self.api.me()
            except errors.AuthenticationError:
                self._forget_token()
                await self._ask_sign_in("Your sign-in has expired. Sign in again.")
                return
            except (errors.NetworkError, errors.ServerError) as error:
                delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
                screen = await self._open_gate(UNREACHABLE, lambda: UnreachableScreen(self.api.server))
                if isinstance(screen, UnreachableScreen):
                    screen.waiting(error.message, delay)
                await asyncio.sleep(delay)
                if isinstance(screen, UnreachableScreen):
                    screen.waiting(error.message, None)
                continue
            except errors.ApiError as error:
                await self._ask_sign_in(error.message)
                return
            await self._enter(me)
            return

    def on_unreachable_screen_retry(self, _: UnreachableScreen.Retry) -> None:
        self.resume_session()  # exclusive: the one waiting for its next try gives way

    async def on_unreachable_screen_sign_in_instead(self, _: UnreachableScreen.SignInInstead) -> None:
        self.workers.cancel_group(self, "session")
        await self._ask_sign_in(None)

    async def on_signed_in(self, message: SignedIn) -> None:
        """The sign-in screen got a token: keep it, retire the one it replaces, show the sections."""
        client = self._client_for(message.server, message.token)
        if self._session is None:
            self._session = Session(client)
        else:  # the screens made for this session see the new client at once
            self._retire(self._session.client)
            self._session.client = client
        self.connection.server, self.connection.email = message.server, message.me.email
        if self.connection.remember_token:
            self._keep_token(message.server, message.me.email, message.token)
        await self._enter(message.me)

    @work(group="retire", exit_on_error=False)
    async def _retire(self, client: CreditsClient) -> None:
        """Revoke a replaced token on the server (if it still works), then close its client."""
        try:
            if client.token:
                await client.sign_out()
        except errors.ApiError:
            pass  # unreachable now: the token expires on its own; the new sign-in matters more
        finally:
            await client.aclose()

    async def _enter(self, me: Me) -> None:
        """Someone is signed in: show their section (or why they cannot see any)."""
        self.me = me
        self.sub_title = f"{me.account.name} · {me.email} ({me.role.value})"
        if me.role not in (Role.admin, Role.support):
            # The server says why, in the product's words: ask it rather than guess.
            try:
                await self.api.status()
                message = "This account cannot view Purchase Credits."
            except errors.ApiError as error:
                message = error.message
            await self._open_gate(NO_ACCESS, lambda: NoAccessScreen(message))
            return
        if not self.is_running:
            return  # quitting: Textual is closing every mode's screens, leave them be
        if self._sections_for != me.id:  # the first sign-in, or nothing of the last user's stays
            self._section = self._first_section
            for section in SECTIONS:
                if self._sections_for is not None:
                    await self.remove_mode(section.mode)
                self.add_mode(section.mode, self._section_screen_factory(section))
            self._shown.clear()
        self._sections_for = me.id
        await self._show_section(self._section)
        await self._close_gates()

    def _section_screen_factory(self, section: Section) -> Callable[[], CreditsScreen]:
        session = self._session
        assert session is not None
        return lambda: section_screen(section)(session)

    async def _show_section(self, mode: str) -> None:
        """Switch to ``mode``: a section shown before loads again (a purchase elsewhere changes it);
        one shown for the first time loads as it mounts."""
        again = mode in self._shown
        section = section_for(mode)
        if not again and section is not None and self._session is not None:
            section_screen(section).ask_ahead(self._session)
        await self.switch_mode(mode)
        self._shown.add(mode)
        screen = self.screen_stack[0]
        if again and isinstance(screen, CreditsScreen):
            screen.reload()

    async def _open_gate(self, mode: str, make: Callable[[], Screen[None]]) -> Screen[object]:
        """Show ``make()`` in place of the sections; it replaces any other gate screen."""
        if self.current_mode == mode or not self.is_running:  # (quitting: nothing to show)
            return self.screen
        if section_for(self.current_mode) is not None:
            # The section stays as it is, dialogs included, for when the sign-in is back.
            self._section = self.current_mode
        self.add_mode(mode, make)
        self._gates.add(mode)
        await self.switch_mode(mode)
        await self._close_gates()
        return self.screen

    async def _close_gates(self) -> None:
        """Remove every gate screen but the one shown (so a stale sign-in never survives)."""
        for mode in self._gates - {self.current_mode}:
            if not self.is_running:
                return  # quitting: Textual is closing every mode's screens itself
            self._gates.discard(mode)
            await self.remove_mode(mode)

    async def _ask_sign_in(self, notice: str | None) -> None:
        if isinstance(self.screen, SignInScreen):  # already asking: one sign-in screen, the news on it
            if notice:
                self.screen.show_notice(notice)
            return
        await self._open_gate(SIGN_IN, lambda: SignInScreen(self.connection.server, self.connection.email,
                                                             notice=notice))

    def on_session_expired(self, _: SessionExpired) -> None:
        """A 401 mid-session: forget the token and ask to sign in again (once)."""
        if self.current_mode == SIGN_IN:
            return
        self._forget_token()
        self.run_worker(self._ask_sign_in("Your sign-in has expired or was revoked. Sign in again."),
                        group="session", exclusive=True, exit_on_error=False)

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
        self.me = None
        await self._ask_sign_in("Signed out.")

    async def on_unmount(self) -> None:
        if self._session is not None:
            await self._session.client.aclose()

    # --- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "section":
            return self._sections_reachable_from(self.screen)
        return True

    def _sections_reachable_from(self, screen: Screen[object]) -> bool:
        # Not from under a dialog either: it is answered (or cancelled) first.
        return self.sections_open and not isinstance(screen, ModalScreen)

    async def action_section(self, mode: str) -> None:
        if self.current_mode != mode:
            await self._show_section(mode)

    async def on_section_tabs_chosen(self, message: SectionTabs.Chosen) -> None:
        if self.check_action("section", (message.mode,)):
            await self.action_section(message.mode)

    def action_leave_field(self) -> None:
        """Escape leaves a text field, so that the section keys and ``r`` and ``?`` work."""
        if isinstance(self.screen.focused, Input):
            self.screen.set_focus(None)

    def action_keys(self) -> None:
        if not isinstance(self.screen, ModalScreen):
            self.push_screen(HelpScreen(self.key_rows(self.screen)))

    def key_rows(self, screen: Screen[object]) -> list[KeyRow]:
        """What each key does on ``screen`` now: the sections, then its own active bindings."""
        rows = [KeyRow(" / ".join(self.get_key_display(Binding(key, "")) for key in section.keys),
                       f"{section.title}: {section.summary}") for section in SECTIONS] if self.sections_open else []
        sections = {f"section('{section.mode}')" for section in SECTIONS}
        return rows + keys_of(self, screen, skip=sections)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Textual's own "Keys" (its help panel) would sit beside ours: one list of keys is enough.
        yield from (command for command in super().get_system_commands(screen) if command.title != "Keys")
        # The screen the palette was opened over: the palette itself is a dialog.
        if self._sections_reachable_from(screen):
            for section in SECTIONS:
                yield SystemCommand(section.title, section.summary,
                                    lambda mode=section.mode: self.run_action(f"section('{mode}')"))
        yield SystemCommand("Keys", "Every key of this screen", self.action_keys)
        if self.signed_in:
            yield SystemCommand("Sign out", "Revoke this sign-in and forget it", self.sign_out)

    # --- theme ----------------------------------------------------------------------------

    def _load_theme(self) -> None:
        try:
            theme = load_config().theme
        except ConfigError:
            return
        if theme and theme in self.available_themes:
            self.theme = theme

    def watch_theme(self, theme: str) -> None:
        if self.is_running:
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


__all__ = ["Connection", "CreditsApp", "run_app"]
