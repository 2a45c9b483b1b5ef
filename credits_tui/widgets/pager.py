"""The page line under the transactions: which rows of how many, the keys that turn the page,
the time window; it keeps the server's cursor of every page up to the current one."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Static

PAGE_SIZE = 100


class Pager(Horizontal):
    DEFAULT_CSS = """
    Pager {
        height: 1;
        & > #page-info { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
        & > #window-info { width: auto; color: $text-muted; padding-left: 2; }
    }
    """

    page_index: reactive[int] = reactive(0, init=False)
    rows: reactive[int] = reactive(0, init=False)  # on the page shown
    total: reactive[int | None] = reactive(None, init=False)  # matching the filters, once added up
    fetching: reactive[bool] = reactive(False, init=False)
    failed: reactive[bool] = reactive(False, init=False)
    window: reactive[str] = reactive("", init=False)  # the time window the rows are for
    has_next: reactive[bool] = reactive(False, init=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._cursors: list[str | None] = [None]  # the cursor of each page up to the current one
        self.next_cursor: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="page-info", markup=False)
        yield Static("", id="window-info", markup=False)

    @property
    def line(self) -> str:
        """The page line as shown (``rows 101–200 of 300 · p/PgUp previous · n/PgDn next``)."""
        return str(self.query_one("#page-info", Static).content)

    def first_page(self) -> None:
        """A new query: back to the first page, nothing further known yet."""
        self._cursors, self.page_index, self.next_cursor, self.has_next = [None], 0, None, False

    def cursor_of(self, index: int) -> str | None:
        """The cursor page ``index`` starts after (pages up to the next one are known)."""
        return self.next_cursor if index == len(self._cursors) else self._cursors[index]

    def turned(self, index: int, page_cursor: str | None, next_cursor: str | None, rows: int) -> None:
        """Page ``index`` (which started after ``page_cursor``) is shown, with ``rows`` rows."""
        self._cursors = [*self._cursors[:index], page_cursor]
        self.next_cursor = next_cursor
        self.has_next = next_cursor is not None
        self.page_index, self.rows, self.fetching, self.failed = index, rows, False, False

    def _update(self) -> None:
        if not self.is_mounted:
            return
        info = self.query_one("#page-info", Static)
        if self.failed and not self.fetching:
            info.update("Transactions could not be loaded (r to retry).", layout=False)
        elif self.fetching and not self.rows:
            info.update("Loading transactions…", layout=False)
        elif not self.rows:
            info.update("No transactions match these filters.", layout=False)
        else:
            first = self.page_index * PAGE_SIZE + 1
            last = first + self.rows - 1
            text = f"rows {first:,}–{last:,}"
            if self.total is not None:
                text += f" of {max(self.total, last):,}"
            hints = []
            if self.page_index > 0:
                hints.append("p/PgUp previous")
            if self.has_next:
                hints.append("n/PgDn next")
            if hints:
                text += "  ·  " + " · ".join(hints)
            if self.fetching:
                text += "  ·  loading…"
            info.update(text, layout=False)  # (the page line is one line, as wide as the pager allows)
        window = self.query_one("#window-info", Static)
        if str(window.content) != self.window:
            window.update(self.window)  # as wide as the text: a change lays the line out again

    watch_page_index = watch_rows = watch_total = watch_fetching = watch_failed = watch_window = _update
    watch_has_next = _update


__all__ = ["PAGE_SIZE", "Pager"]
