"""One page of transactions in a DataTable (never more: the server pages, the table shows)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timezone
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from credits_tui.api_client.models import Transaction
from credits_tui.formatting import amount_text, credits_text, type_label

TIME = 16  # "2026-11-27 08:33"
TYPE, USER = 22, 14  # what they get when there is room
TYPE_MIN, USER_MIN = 8, 6
DESCRIPTION_MIN, DESCRIPTION_WIDE = 12, 40  # with less room it goes off to the right, this wide


def column_widths(width: int, amount: int, balance: int, padding: int = 1) -> dict[str, int]:
    """Text widths of the columns for a table whose rows have ``width`` cells (``amount``,
    ``balance``: the widest figures of the page).

    The description takes what is left, cut with an ellipsis; with too little left it moves
    off to the right, whole (scroll to read it), rather than show a sliver. On a narrow
    terminal the type and user columns shrink first, then the balance goes off to the right:
    the amount always stays in view.
    """
    pad = 2 * padding
    widths = {"time": TIME, "type": TYPE, "user": USER, "amount": amount, "balance": balance,
              "description": width - (TIME + TYPE + USER + amount + balance) - 6 * pad}
    if widths["description"] >= DESCRIPTION_MIN:
        return widths
    widths["description"] = DESCRIPTION_WIDE
    room = width - (TIME + amount + balance) - 5 * pad  # type and user, up to the description
    if room < TYPE_MIN + USER_MIN:
        room = width - (TIME + amount) - 4 * pad  # up to the balance
    if room >= TYPE + USER:
        widths["type"] = room - USER
    else:
        widths["type"] = max(TYPE_MIN, room * TYPE // (TYPE + USER))
        widths["user"] = max(USER_MIN, room - widths["type"])
    return widths


COLUMNS = (("time", "Time (UTC)"), ("type", "Type / process"), ("user", "User"), ("amount", "Amount"),
           ("balance", "Balance"), ("description", "Description"))


def type_text(item: Transaction, labels: Mapping[str, str]) -> str:
    """What happened, short: the process for usage (``Postcard``), else the type (``Auto recharge``)."""
    kind = type_label(item.transaction_type.value)
    if item.process_type:
        process = labels.get(item.process_type, item.process_type.replace("_", " "))
        return process if item.transaction_type.value == "usage" else f"{kind} · {process}"
    return kind


def _right(text: Text) -> Text:
    text.justify = "right"
    return text


class TransactionTable(DataTable[Text]):
    """Rows keyed by transaction id; every cell is a ``rich.text.Text`` (server text is never markup).

    PageDown on the last row and PageUp on the first ask the screen for the next or
    previous server page (``TransactionTable.PageRequest``).
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", key_display="⏎", tooltip="Open the receipt or the details"),
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
        self._widths: dict[str, int] = {}
        self._built_with: dict[str, str] | None = None  # the labels the rows were built with

    def on_mount(self) -> None:
        self._fit_columns([])

    def on_resize(self, _: events.Resize) -> None:
        cursor = self.cursor_row  # read first: laying the columns out again clears the rows and the cursor
        if self._fit_columns(self.items):
            self.show_page(self.items, cursor=cursor)

    def _fit_columns(self, items: Sequence[Transaction]) -> bool:
        """Lay the columns out for this width and these rows; True if they changed (rows cleared)."""
        # The figures' columns widen for a wider figure but never narrow while the table lives: as
        # a search narrows the rows, the columns stay where the reader's eyes are, and the table
        # is not laid out again (about 120 ms more drawing for the key that changed the widths).
        amount = max([self._widths.get("amount", len("Amount"))]
                     + [len(credits_text(item.amount, signed=True)) for item in items])
        balance = max([self._widths.get("balance", len("Balance"))]
                      + [len(credits_text(item.balance_after)) for item in items])
        # The vertical scrollbar takes its cells only when the rows overflow the height (which a
        # horizontal scrollbar may shorten by its own line): lay out for the room the rows will have.
        rows_room = self.size.height - self.header_height - self.styles.scrollbar_size_horizontal
        scrollbar = self.styles.scrollbar_size_vertical if len(items) > rows_room else 0
        widths = column_widths(self.size.width - scrollbar, amount, balance, self.cell_padding)
        if widths == self._widths:
            return False
        # DataTable cannot resize a column: the columns are laid out again (the caller refills the rows).
        self._widths = widths
        self.clear(columns=True)
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=widths[key])
        return True

    # --- contents -----------------------------------------------------------------------

    def show_page(self, items: Sequence[Transaction], labels: Mapping[str, str] | None = None, *,
                  cursor: int | str = 0) -> None:
        """Replace the rows with ``items``; ``cursor`` is a row index or ``"end"``."""
        if labels is not None:
            self._labels = labels
        items = list(items)
        if self._labels == self._built_with and items == self.items and self.row_count == len(items):
            # A refresh that brought the page back unchanged (each time a section is shown again):
            # the rows and the drawings DataTable keeps of them stay, and nothing is drawn afresh.
            self._place_cursor(len(items), cursor)
            return
        if not self._fit_columns(items):
            self.clear()
        self._items = {str(item.id): item for item in items}
        self.add_rows_with_keys(items)
        self._built_with = dict(self._labels)
        self._place_cursor(len(items), cursor)

    def _place_cursor(self, rows: int, cursor: int | str) -> None:
        if rows:
            row = rows - 1 if cursor == "end" else min(int(cursor), rows - 1)
            self.move_cursor(row=row, animate=False, scroll=True)
            if cursor != "end" and row == 0:
                self.scroll_to(y=0, animate=False)

    def _update_dimensions(self, new_rows: Iterable[RowKey], *args: Any, **kwargs: Any) -> None:
        # DataTable measures every cell of the new rows to widen auto-width columns and size
        # auto-height rows. Here every column has a fixed width and every row one line, so the
        # measures change nothing: only the table's size is worked out (12–16 ms a page of 100
        # rows, a third of a search keystroke's time in the app). Any later arguments pass on.
        super()._update_dimensions((), *args, **kwargs)

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
            _right(amount_text(item.amount)),
            _right(amount_text(item.balance_after, signed=False)),
            Text(item.description, no_wrap=True, overflow="ellipsis"),
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
