"""A saved sign-in, but the server does not answer: say so, and try again (by itself too).

Not the password prompt: the sign-in is probably fine, the network or the server is not.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Header, Static

from credits_tui.widgets.keys_footer import KeysFooter


class UnreachableScreen(Screen[None]):
    DEFAULT_CSS = """
    UnreachableScreen {
        align: center middle;
        #unreachable { width: 64; max-width: 100%; height: auto; padding: 0 2; border: round $warning;
                       background: $surface; }
        #unreachable-why { margin-bottom: 1; }
        #unreachable-next { color: $text-muted; margin-bottom: 1; }
        #unreachable-buttons { height: auto; margin-bottom: 1; }
        #unreachable-buttons Button { margin-right: 2; }
    }
    """
    BINDINGS = [Binding("r", "retry", "Retry now")]

    class Retry(Message):
        """Try the server now instead of waiting."""

    class SignInInstead(Message):
        """Sign in again, maybe to another server."""

    def __init__(self, server: str) -> None:
        super().__init__()
        self._server = server
        self._why = ""
        self._delay: float | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Center(), Vertical(id="unreachable"):
            yield Static("Cannot reach the server", classes="title")
            yield Static(self._why, id="unreachable-why", markup=False)
            yield Static(self._next_try(), id="unreachable-next", markup=False)
            with Horizontal(id="unreachable-buttons"):
                yield Button("Sign in again", id="unreachable-sign-in")
                yield Button("Retry", id="unreachable-retry", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#unreachable-retry", Button).focus()

    def waiting(self, why: str, delay: float | None) -> None:
        """Say what went wrong and when the next try is (None: trying now)."""
        self._why, self._delay = why, delay
        for selector, text in (("#unreachable-why", why), ("#unreachable-next", self._next_try())):
            for widget in self.query(selector).results(Static):  # none yet if called before compose
                widget.update(text)

    def _next_try(self) -> str:
        if self._delay is None:
            return "Trying now…"
        return f"Signed in to {self._server}. Trying again by itself in {self._delay:.0f} s."

    def action_retry(self) -> None:
        self.post_message(self.Retry())

    @on(Button.Pressed, "#unreachable-retry")
    def _retry(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_retry()

    @on(Button.Pressed, "#unreachable-sign-in")
    def _sign_in(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.SignInInstead())
