"""What every section screen shares: header, section tabs, error banner, footer, calling the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.widgets.error_banner import ErrorBanner
from credits_tui.widgets.section_tabs import SectionTabs
from credits_tui.widgets.warnings_bar import WarningsBar

if TYPE_CHECKING:
    from credits_tui.app import CreditsApp

T = TypeVar("T")


class CreditsScreen(Screen[None]):
    """A top-level section (Status, Billing, Buy Credits, Manage Credits).

    Subclasses compose their body and implement ``reload``, which starts an exclusive
    worker; ``call_api`` turns every failure into the error banner (or a new sign-in).
    Textual runs the ``on_mount``/``on_screen_resume`` of every class in the hierarchy,
    subclass first: subclasses define their own without calling ``super()``.
    """

    app: CreditsApp  # type: ignore[assignment]
    # Here as well as on the app: a screen's keys come first in the footer, and at 80 columns
    # the app's own would be cut off after a section's. ``?`` must always be in sight.
    BINDINGS = [Binding("question_mark", "app.keys", "Keys", key_display="?")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield WarningsBar()
        yield SectionTabs(self.app.current_mode)
        yield ErrorBanner()
        yield from self.compose_body()
        # Compact: the keys that matter fit 80 columns (the tab bar already shows 1-4).
        yield Footer(compact=True)

    def compose_body(self) -> Iterable[Widget]:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        for tabs in self.query(SectionTabs):  # none yet on the first resume, before compose
            tabs.mark(self.app.current_mode)
        # Coming back to a section shows fresh figures (a purchase elsewhere changes them).
        if self.is_mounted and self.app.signed_in:
            self.reload()

    def reload(self) -> None:
        """Fetch what the screen shows (in a worker)."""

    def on_error_banner_retry(self, _: ErrorBanner.Retry) -> None:
        self.reload()

    @property
    def error_banner(self) -> ErrorBanner:
        return self.query_one(ErrorBanner)

    async def call_api(self, request: Callable[[CreditsClient], Awaitable[T]], *,
                       show_errors: bool = True) -> T | errors.ApiError:
        """Run ``request``; a failure is returned (and shown), a lost sign-in starts a new one."""
        try:
            result = await request(self.app.api)
        except errors.AuthenticationError as error:
            self.app.session_expired()
            return error
        except errors.ApiError as error:
            if show_errors:
                self.error_banner.show(error.message, retry=not isinstance(error, errors.ForbiddenError))
            return error
        self.error_banner.hide()
        return result
