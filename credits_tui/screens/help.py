"""The keys, for every screen: one place a person can look them up."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static
from rich.table import Table

KEYS: list[tuple[str, str]] = [
    ("1 / F1", "Status: balance, card, free quotas, recent activity"),
    ("2 / F2", "Billing: card on file, add or edit, past invoices"),
    ("3 / F3", "Buy Credits"),
    ("4 / F4", "Manage Credits: search every transaction"),
    ("r", "Refresh the current section"),
    ("a / e / c", "Billing: add, edit or replace the card"),
    ("x", "Billing: how to remove the card"),
    ("/", "Manage Credits: jump to search"),
    ("n / p, PgDn / PgUp", "Manage Credits: next / previous page"),
    ("Enter", "Buy Credits: ask to confirm; Manage Credits: transaction details"),
    ("y / Enter, n / Escape", "Confirm or cancel a purchase"),
    ("e", "Manage Credits: export CSV"),
    ("Tab / Shift+Tab", "Move between fields and buttons"),
    ("Ctrl+P", "Command palette: every action, and the theme"),
    ("?", "This list"),
    ("Ctrl+Q", "Quit"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 76; height: auto; max-height: 90%; border: round $primary;
                                  background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for keys, what in KEYS:
            table.add_row(keys, what)
        with VerticalScroll():
            yield Static("Keys", classes="title")
            yield Static(table)
            yield Static("Escape closes this list.", classes="hint")
