"""Every field of one transaction, in a dialog over Manage Credits."""

from __future__ import annotations

from datetime import timezone

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from credits_tui.api_client.models import Transaction
from credits_tui.formatting import amount_text, credits_text, type_label


def detail_fields(item: Transaction, process_label: str | None = None) -> list[tuple[str, Text]]:
    """(field, value) for a person; every value is plain text, never markup."""
    if item.process_type:
        process = f"{process_label} ({item.process_type})" if process_label else item.process_type
    else:
        process = "—"
    user = f"{item.user.name} <{item.user.email}>" if item.user else "— (the system)"
    return [
        ("Transaction", Text(f"#{item.id}")),
        ("Time (UTC)", Text(f"{item.created_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}")),
        ("Type", Text(type_label(item.transaction_type.value))),
        ("Process type", Text(process)),
        ("User", Text(user)),
        ("Amount", amount_text(item.amount) + " credits"),
        ("Balance after", Text(credits_text(item.balance_after) + " credits")),
        ("Description", Text(item.description or "—")),
        ("Reference", Text(item.reference or "—")),
    ]


class TransactionDetail(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    TransactionDetail { align: center middle; }
    TransactionDetail > VerticalScroll {
        width: 80; max-width: 95%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    TransactionDetail #detail-fields { margin-bottom: 1; }
    """

    def __init__(self, item: Transaction, process_label: str | None = None) -> None:
        super().__init__()
        self.item = item
        self.process_label = process_label

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for name, value in detail_fields(self.item, self.process_label):
            table.add_row(name, value)
        with VerticalScroll():
            yield Static("Transaction details", classes="title", markup=False)
            yield Static(table, id="detail-fields")
            yield Static("Escape or Enter closes.", classes="hint", markup=False)
