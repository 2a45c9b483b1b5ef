"""One page of transactions in a DataTable (never more: the server pages, the table shows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timezone

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from credits_tui.api_client.models import Transaction
from credits_tui.formatting import credits_text

COLUMNS = (("time", "Time (UTC)", 16), ("type", "Type / process", 22), ("user", "User", 14),
           ("amount", "Amount", None), ("balance", "Balance", None), ("description", "Description", None))


def type_text(item: Transaction, labels: Mapping[str, str]) -> str:
    """What happened, short: the process for usage (``Postcard``), else the type (``auto recharge``)."""
    kind = item.transaction_type.value.replace("_", " ")
    if item.process_type:
        process = labels.get(item.process_type, item.process_type.replace("_", " "))
        return process if item.transaction_type.value == "usage" else f"{kind} · {process}"
    return kind


def amount_text(amount, *, signed: bool = True) -> Text:
    style = "green" if amount > 0 else "red" if amount < 0 else ""
    return Text(credits_text(amount, signed=signed), style=style if signed else "", justify="right")


class TransactionTable(DataTable[Text]):
    """Rows keyed by transaction id; every cell is a ``rich.text.Text`` (server text is never markup).

    PageDown on the last row and PageUp on the first ask the screen for the next or
    previous server page (``TransactionTable.PageRequest``).
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Details"),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
    ]

    DEFAULT_CSS = """
    TransactionTable.-stale { opacity: 60%; }
    """

    class PageRequest(Message):
        """Go to the next (``forward``) or previous server page."""

        def __init__(self, forward: bool) -> None:
            super().__init__()
            self.forward = forward

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._items: dict[str, Transaction] = {}
        self._labels: Mapping[str, str] = {}

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    # --- contents -----------------------------------------------------------------------

    def show_page(self, items: Sequence[Transaction], labels: Mapping[str, str] | None = None, *,
                  cursor: int | str = 0) -> None:
        """Replace the rows with ``items``; ``cursor`` is a row index or ``"end"``."""
        if labels is not None:
            self._labels = labels
        self.clear()
        self._items = {str(item.id): item for item in items}
        self.add_rows_with_keys(items)
        if items:
            row = len(items) - 1 if cursor == "end" else min(int(cursor), len(items) - 1)
            self.move_cursor(row=row, animate=False, scroll=True)
            if cursor != "end" and row == 0:
                self.scroll_to(y=0, animate=False)

    def add_rows_with_keys(self, items: Sequence[Transaction]) -> None:
        for item in items:
            self.add_row(*self._cells(item), key=str(item.id))

    def set_labels(self, labels: Mapping[str, str]) -> None:
        """Process-type labels arrived: show them (the page is rebuilt, the cursor stays)."""
        self._labels = labels
        if self._items:
            self.show_page(list(self._items.values()), cursor=self.cursor_row)

    def _cells(self, item: Transaction) -> list[Text]:
        return [
            Text(f"{item.created_at.astimezone(timezone.utc):%Y-%m-%d %H:%M}"),
            Text(type_text(item, self._labels), overflow="ellipsis", no_wrap=True),
            Text(item.user.name if item.user else "—", overflow="ellipsis", no_wrap=True),
            amount_text(item.amount),
            amount_text(item.balance_after, signed=False),
            Text(item.description, no_wrap=True),
        ]

    @property
    def items(self) -> list[Transaction]:
        """The page shown, top to bottom."""
        return list(self._items.values())

    def transaction(self, key: str | None) -> Transaction | None:
        return self._items.get(key) if key is not None else None

    @property
    def current(self) -> Transaction | None:
        """The transaction under the cursor."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.transaction(key)

    # --- paging -------------------------------------------------------------------------

    def action_page_down(self) -> None:
        if not self.row_count or self.cursor_row >= self.row_count - 1:
            self.post_message(self.PageRequest(forward=True))
        else:
            super().action_page_down()

    def action_page_up(self) -> None:
        if not self.row_count or self.cursor_row <= 0:
            self.post_message(self.PageRequest(forward=False))
        else:
            super().action_page_up()
