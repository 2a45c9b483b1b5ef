"""A readable failure with a way to retry: shown in place of what could not be loaded."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Static


class ErrorBanner(Horizontal):
    """Hidden until ``show``; its Retry button posts ``ErrorBanner.Retry`` to the screen."""

    DEFAULT_CSS = """
    ErrorBanner {
        display: none;
        height: auto;
        padding: 0 1;
        margin: 0 0 1 0;
        background: $error 15%;
        border-left: thick $error;
    }
    ErrorBanner.-visible { display: block; }
    ErrorBanner > Static { width: 1fr; padding: 1 0; }
    ErrorBanner > Button { margin: 0 0 0 2; min-width: 11; }
    """

    class Retry(Message):
        """The person asked to try the failed request again."""

    def compose(self) -> ComposeResult:
        yield Static("", id="error-text", markup=False)
        yield Button("Retry", id="retry", variant="error", compact=True)

    def show(self, message: str, *, retry: bool = True) -> None:
        self.query_one("#error-text", Static).update(message)
        self.query_one("#retry", Button).display = retry
        self.add_class("-visible")

    def hide(self) -> None:
        self.remove_class("-visible")

    @property
    def visible_message(self) -> str | None:
        return str(self.query_one("#error-text", Static).content) if self.has_class("-visible") else None

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.hide()
        self.post_message(self.Retry())
