"""What a user without the right to view Purchase Credits sees: the server's own words."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center
from textual.screen import Screen
from textual.widgets import Header, Static

from credits_tui.widgets.keys_footer import KeysFooter


class NoAccessScreen(Screen[None]):
    DEFAULT_CSS = """
    NoAccessScreen { align: center middle; }
    NoAccessScreen #denied { width: 64; height: auto; padding: 1 2; border: round $warning; }
    """

    def __init__(self, message: str) -> None:
        super().__init__()
        self._message = message

    def compose(self) -> ComposeResult:
        yield Header()
        with Center():
            yield Static(self._message, id="denied", markup=False)
        yield KeysFooter(compact=False)
