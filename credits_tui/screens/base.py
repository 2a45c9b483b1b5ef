"""What every section screen shares: header, section tabs, error banner, footer, the ``r`` key,
its palette entries, and the one place a request to the server is made and its failure mapped.

A section screen is given the ``Session`` (the client and who is signed in) when it is made.
It loads once when it is first shown; the app calls ``reload()`` each time the section is
switched to again, and ``r`` / the banner's Retry call it too. A failure goes to the error
banner; a lost sign-in is posted as ``SessionExpired`` for the app to handle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import ClassVar, Protocol, TypeVar

from textual import events, on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.messages import SessionExpired
from credits_tui.session import Session
from credits_tui.widgets.error_banner import ErrorBanner
from credits_tui.widgets.keys_footer import KeysFooter
from credits_tui.widgets.section_tabs import SectionTabs
from credits_tui.widgets.warnings_bar import WarningsBar

T = TypeVar("T")


class CallApi(Protocol):
    """``CreditsScreen.call_api``, as the dialogs of a section are given it (they ask through it)."""

    async def __call__(self, request: Callable[[CreditsClient], Awaitable[T]], *,
                       show_errors: bool = True) -> T | errors.ApiError: ...


class SectionCommands(Provider):
    """The palette entries of the section shown (``CreditsScreen.section_commands``)."""

    def _commands(self) -> list[SystemCommand]:
        screen = self.screen
        return list(screen.section_commands()) if isinstance(screen, CreditsScreen) else []

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            if (score := matcher.match(command.title)) > 0:
                yield Hit(score, matcher.highlight(command.title), command.callback, help=command.help)


class CreditsScreen(Screen[None]):
    """A top-level section (Status, Billing, Buy Credits, Manage Credits).

    Subclasses name their ``SECTION``, compose their body and implement ``reload``, which
    starts an exclusive worker that asks through ``call_api``.
    """

    SECTION: ClassVar[str] = ""  # the app mode (sections.py) that shows this screen
    # True when the screen's first load hands the warnings bar the account's warnings (Status):
    # the bar does not ask the server for the same figures while the screen is asking.
    HANDS_WARNINGS: ClassVar[bool] = False
    COMMANDS = {SectionCommands}
    # ``?`` here as well as on the app: a screen's keys come first in the footer, and at 80
    # columns the app's own would be cut off after a section's. ``?`` must always be in sight.
    BINDINGS = [
        Binding("r", "reload", "Refresh", id="refresh"),
        Binding("question_mark", "app.keys", "Keys", key_display="?", id="keys"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self._styled_in_app_focus = True  # the app's focus when the screen was last styled in full

    @classmethod
    def ask_ahead(cls, session: Session) -> None:
        """Start the first load's requests before the screen is built (the app calls this as the
        section is first shown; ``Session.take_ahead`` hands the answer to the load)."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield WarningsBar(self.session, ask_at_mount=not self.HANDS_WARNINGS)
        yield SectionTabs(self.SECTION)
        yield ErrorBanner()
        yield from self.compose_body()
        yield KeysFooter()

    def compose_body(self) -> Iterable[Widget]:
        raise NotImplementedError

    def on_mount(self) -> None:
        # Textual runs every class's on_mount, subclass first: subclasses need not call super().
        self._styled_in_app_focus = self.app.app_focus
        self.reload()  # the first show; the app asks again each time the section is switched to

    @on(events.ScreenResume)
    def _restyle_only_for_what_changed(self, event: events.ScreenResume) -> None:
        # Textual restyles the whole screen each time it is shown (twice when it is first shown,
        # once more when a dialog over it closes), in case something changed while it was hidden.
        # Its widgets restyle themselves as their own state changes (focus, hover, classes,
        # disabled); what they cannot follow is the app's CSS (a theme), which Textual counts and
        # restyles every screen for, and the app's focus (App:blur), which Textual follows on the
        # screen shown only. Only those call for it here. Style applications, start to Status
        # shown: 2,646 → 1,728; first visit to Manage: 836 → 606; four section switches: 1,158 → 696.
        up_to_date = self._css_update_count == self.app._css_update_count  # Textual's own count
        if up_to_date and self.app.app_focus == self._styled_in_app_focus:
            event.refresh_styles = False

    @on(events.ScreenSuspend)
    def _note_the_app_focus_styled_for(self) -> None:
        self._styled_in_app_focus = self.app.app_focus  # Textual kept the screen in step until now

    def reload(self) -> None:
        """Fetch what the screen shows (in a worker)."""

    def action_reload(self) -> None:
        self.reload()

    def section_commands(self) -> Iterable[SystemCommand]:
        """This section's palette entries (subclasses add theirs after these)."""
        yield SystemCommand("Refresh", "Load the current section again (r)", self.reload)

    def on_error_banner_retry(self, _: ErrorBanner.Retry) -> None:
        self.reload()

    @property
    def error_banner(self) -> ErrorBanner:
        return self.query_one(ErrorBanner)

    async def call_api(self, request: Callable[[CreditsClient], Awaitable[T]], *,
                       show_errors: bool = True) -> T | errors.ApiError:
        """Run ``request`` with the session's client; a failure is returned instead of raised.

        With ``show_errors`` the failure is shown in the banner (and a success hides it);
        without, the banner is left to the caller. A lost sign-in is posted as ``SessionExpired``.
        """
        try:
            result = await request(self.session.client)
        except errors.AuthenticationError as error:
            self.post_message(SessionExpired())
            return error
        except errors.ApiError as error:
            if show_errors:
                self.show_error(error)
            return error
        if show_errors:
            self.error_banner.hide()
        return result

    def show_error(self, error: errors.ApiError) -> None:
        """The banner, with Retry unless retrying cannot help (a refusal of this role)."""
        self.error_banner.show(error.message, retry=not isinstance(error, errors.ForbiddenError))


__all__ = ["CallApi", "CreditsScreen", "SectionCommands"]
