"""The keys of the current screen, built from its bindings (so it lists only what works)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

# What no binding describes: moving around, and the keys every screen shares.
GENERAL = (
    ("Escape", "Leave a text field (then 1-5, r and ? work), or close a dialog"),
    ("Tab / Shift+Tab", "Move between fields and buttons"),
    ("Ctrl+P", "Command palette: every action, and the theme"),
)


class KeyRow(NamedTuple):
    keys: str
    what: str


def keys_of(app: App[Any], screen: Screen[object], *, skip: Collection[str] = ()) -> list[KeyRow]:
    """The screen's active bindings, one row per action (``n / PgDn``): those in the footer, and
    the app's own hidden ones (Textual's built-in keys, such as cursor moves, are left out)."""
    by_action: dict[str, tuple[list[str], Binding]] = {}
    for namespace, binding, enabled, _tooltip in screen.active_bindings.values():
        ours = type(namespace).__module__.startswith("credits_tui.")
        if (not enabled or not binding.description or binding.action in skip or binding.key == "escape"
                or not (binding.show or ours)):
            continue
        keys, _first = by_action.setdefault(binding.action, ([], binding))
        keys.append(app.get_key_display(binding))
    # A footer label kept short for 80 columns says it in full in its tooltip.
    return [KeyRow(" / ".join(dict.fromkeys(keys)), first.tooltip or first.description)
            for keys, first in by_action.values()]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 76; max-width: 100%; height: auto; max-height: 90%;
                                  border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, rows: list[KeyRow]) -> None:
        super().__init__()
        self._rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for keys, what in [*self._rows, *GENERAL]:
            table.add_row(Text(keys), Text(what))
        with VerticalScroll():
            yield Static("Keys", classes="title")
            yield Static(table)
            yield Static("Escape closes this list.", classes="hint")
