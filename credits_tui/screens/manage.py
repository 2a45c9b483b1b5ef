"""Manage Credits: search every transaction, a page at a time, with the window's totals and CSV export.

The table holds one server page (100 rows) and nothing else, so memory does not grow with
the account. Every fetch runs in an exclusive worker (a newer query cancels the older) and
carries a request number: a result that is no longer the newest is dropped, never shown.
Typing in the search waits for a pause (300 ms) before asking the server.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Input, ProgressBar, Select, Static

from credits_tui.api_client import errors
from credits_tui.api_client.models import (
    PriceCatalog,
    TransactionPage,
    TransactionQuery,
    TransactionSummary,
    TransactionType,
    UserList,
)
from credits_tui.formatting import credits_text, type_label
from credits_tui.messages import SessionExpired
from credits_tui.screens.base import CreditsScreen
from credits_tui.screens.export_csv import ExportCsv, default_export_path
from credits_tui.screens.receipt import ReceiptScreen, has_receipt
from credits_tui.screens.transaction_detail import TransactionDetail
from credits_tui.session import Session
from credits_tui.timeframes import ALL_TIME, LABELS, DateError, TimeFrameChoice, describe_window
from credits_tui.widgets.time_frame import TimeFrame
from credits_tui.widgets.transaction_table import TransactionTable
from credits_tui.widgets.usage_chart import UsageChart

PAGE_SIZE = 100
SEARCH_DELAY = 0.3  # seconds of quiet after the last key before searching
DATE_DELAY = 0.8  # a date is longer to type: wait a little more before judging it
BUSY_DELAY = 0.2  # a fetch quicker than this shows no spinner (no flicker on paging)
ALL = ""  # the value of every "All …" choice


@dataclass(frozen=True)
class Filters:
    """What the filter bar holds, as typed (the query is built from it)."""

    time_frame: TimeFrameChoice
    transaction_type: str
    process_type: str
    user: str
    q: str


def count_csv_records(chunk: bytes, in_quotes: bool) -> tuple[int, bool]:
    """Record ends (newlines outside quoted fields) in ``chunk``, and the quoting state after it.

    CSV escapes a quote inside a quoted field by doubling it, so the parity of the quotes seen
    so far tells whether a newline ends a record or belongs to a field.
    """
    records = 0
    for index, part in enumerate(chunk.split(b'"')):
        if index:
            in_quotes = not in_quotes
        if not in_quotes:
            records += part.count(b"\n")
    return records, in_quotes


class ManageScreen(CreditsScreen):
    SECTION = "manage"
    CSS_PATH = "manage.tcss"
    AUTO_FOCUS = "#transactions"  # the table first: Enter, n, p and e work at once
    BINDINGS = [
        Binding("slash", "focus_search", "Search", key_display="/"),
        Binding("n", "next_page", "Next page"),
        Binding("p", "previous_page", "Prev page"),
        Binding("pagedown", "next_page", "Next page", show=False),
        Binding("pageup", "previous_page", "Prev page", show=False),
        Binding("e", "export", "Export"),  # short: with "c Chart" the key hints still fit 80 columns
        Binding("c", "toggle_chart", "Chart"),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._query: TransactionQuery | None = None  # the query the rows and totals are for
        self._applied: Filters | None = None  # the filters that query came from
        self._window: tuple[datetime | None, datetime | None] = (None, None)  # of the query shown
        self._frame = ""  # the time frame of the query shown
        self._cursors: list[str | None] = [None]  # the cursor of each page up to the current one
        self._page_index = 0
        self._next_cursor: str | None = None
        self._generation = 0  # bumped by every new query: totals of an older one are dropped
        self._page_request = 0  # bumped by every page fetch: an older page is dropped
        self._page_loading = False
        self._summary: TransactionSummary | None = None
        self._labels: dict[str, str] = {}
        self._choices_loaded = False
        self._debounce: Timer | None = None
        self._busy_timers: dict[str, Timer] = {}
        self._failed: set[str] = set()  # which of "page" and "totals" failed last time
        self.exporting = False
        self.last_export: tuple[Path, int] | None = None  # where the last export went, and its rows

    # --- layout -------------------------------------------------------------------------

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="manage-body"):
            with Horizontal(id="filter-bar"):
                yield TimeFrame(id="time-frame")
                yield Select([("All types", ALL)] + [(type_label(t.value), t.value) for t in TransactionType],
                             value=ALL, allow_blank=False, compact=True, id="type", tooltip="Transaction type")
                yield Select([("All process types", ALL)], value=ALL, allow_blank=False, compact=True,
                             id="process", tooltip="Process type (what used the credits)")
                yield Select([("All users", ALL)], value=ALL, allow_blank=False, compact=True, id="user",
                             tooltip="User who caused the transaction")
            with Horizontal(id="search-bar"):
                yield Input(placeholder="Search user, type, description…  ( / )", max_length=200, compact=True,
                            id="search")
            yield Static("", id="filter-message", markup=False)
            yield Static("", id="totals", markup=False)
            yield UsageChart("Credits used", id="usage-chart")
            yield TransactionTable(id="transactions")
            with Horizontal(id="page-bar"):
                yield Static("", id="page-info", markup=False)
                yield Static("", id="window-info", markup=False)
            with Horizontal(id="export-bar"):
                yield Static("", id="export-label", markup=False)
                yield ProgressBar(id="export-progress", show_eta=False)

    # --- widgets ------------------------------------------------------------------------

    @property
    def table(self) -> TransactionTable:
        return self.query_one(TransactionTable)

    @property
    def time_frame(self) -> TimeFrame:
        return self.query_one(TimeFrame)

    @property
    def search(self) -> Input:
        return self.query_one("#search", Input)

    @property
    def current_query(self) -> TransactionQuery | None:
        """The query of the rows and totals shown."""
        return self._query

    @property
    def summary(self) -> TransactionSummary | None:
        """The totals shown (None while they load)."""
        return self._summary

    @property
    def busy(self) -> bool:
        """True while the page or the totals are on their way."""
        return self._page_loading or self._summary is None

    @property
    def settled(self) -> bool:
        """Nothing pending: no search waiting for a pause, the page and the totals are in."""
        return self._debounce is None and not self._page_loading and self._summary is not None

    @property
    def choices_loaded(self) -> bool:
        return self._choices_loaded

    @property
    def filter_message(self) -> str:
        return str(self.query_one("#filter-message", Static).content)

    @property
    def page_info(self) -> str:
        return str(self.query_one("#page-info", Static).content)

    @property
    def page_index(self) -> int:
        return self._page_index

    @property
    def has_next_page(self) -> bool:
        return self._next_cursor is not None

    # --- filters ------------------------------------------------------------------------

    def filters(self) -> Filters:
        def value(selector: str) -> str:
            chosen = self.query_one(selector, Select).value
            return chosen if isinstance(chosen, str) else ALL

        return Filters(self.time_frame.choice, value("#type"), value("#process"), value("#user"),
                       self.search.value.strip())

    def _say(self, message: str) -> None:
        self.query_one("#filter-message", Static).update(message)
        self.query_one("#filter-message").set_class(bool(message), "-visible")

    def _build_query(self, filters: Filters) -> TransactionQuery | None:
        """The query for ``filters``, or None (with a message) when one of them cannot be used."""
        try:
            since, until = filters.time_frame.window(datetime.now(timezone.utc))
        except DateError as error:
            self.time_frame.mark_invalid(error.field)
            self._say(f"{error}  (Showing the results of the previous filters.)")
            return None
        self.time_frame.mark_invalid(None)
        if filters.q and not any(ch.isalnum() for ch in filters.q):
            self._say("Search for at least one letter or digit.")
            return None
        self._say("")
        self._window = (since, until)
        return TransactionQuery(
            since=since, until=until,
            transaction_type=[TransactionType(filters.transaction_type)] if filters.transaction_type else [],
            process_type=[filters.process_type] if filters.process_type else [],
            user=filters.user or None, q=filters.q or None,
        )

    def _cancel_debounce(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None

    def _apply_later(self, delay: float) -> None:
        """Apply the filters after ``delay`` seconds of quiet (each change restarts the wait)."""
        self._cancel_debounce()
        self._debounce = self.set_timer(delay, self.apply_filters)

    def apply_filters(self, *, refresh: bool = False) -> None:
        """Show the filters' first page and totals; ``refresh`` fetches again, keeping the page."""
        self._cancel_debounce()
        filters = self.filters()
        same = filters == self._applied
        if same and not refresh:
            return  # e.g. a Select announcing the value it already had
        query = self._build_query(filters)
        if query is None:
            self._applied = None
            return
        self._applied = filters
        self._query = query
        self._frame = filters.time_frame.frame
        self._generation += 1
        if not same:
            self._cursors, self._page_index, self._next_cursor = [None], 0, None
        self._summary = None
        self._show_totals()
        self._load_page(self._page_index, self._cursors[self._page_index], cursor="keep" if same else 0)
        self._set_busy("totals", True)
        self.load_totals(self._generation, query)
        if self.has_class("-chart"):
            self.load_chart(query, self._window)

    def reload(self) -> None:
        if not self._choices_loaded:
            self.load_choices()
        self.apply_filters(refresh=True)

    @on(TimeFrame.Changed)
    def _time_frame_changed(self, event: TimeFrame.Changed) -> None:
        if event.typing:
            self._apply_later(DATE_DELAY)
        else:
            self.apply_filters()

    @on(Select.Changed, "#type, #process, #user")
    def _select_changed(self) -> None:
        self.apply_filters()

    @on(Input.Changed, "#search")
    def _search_typed(self) -> None:
        self._apply_later(SEARCH_DELAY)

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.apply_filters()
        self.table.focus()

    # --- loading ------------------------------------------------------------------------

    def _set_busy(self, what: str, busy: bool) -> None:
        """Mark the table or the totals as loading: dimmed at once, a spinner if it lasts."""
        widget = self.table if what == "table" else self.query_one("#totals")
        timer = self._busy_timers.pop(what, None)
        if timer is not None:
            timer.stop()
        widget.set_class(busy, "-stale")
        if busy:
            def spin() -> None:
                # a timer's callback is queued, so it can run after a stop(): check it still applies
                if widget.has_class("-stale"):
                    widget.loading = True

            self._busy_timers[what] = self.set_timer(BUSY_DELAY, spin)
        else:
            widget.loading = False

    def _load_page(self, index: int, page_cursor: str | None, *, cursor: int | str = 0) -> None:
        """Fetch page ``index`` (which starts after ``page_cursor``); ``cursor`` places the row cursor."""
        assert self._query is not None
        self._page_request += 1
        self._page_loading = True
        self._set_busy("table", True)
        self._show_page_info()
        self.load_page(self._page_request, self._query, index, page_cursor, cursor)

    @work(exclusive=True, group="transactions", exit_on_error=False)
    async def load_page(self, request: int, query: TransactionQuery, index: int, page_cursor: str | None,
                        cursor: int | str) -> None:
        # The banner is left to _report: page and totals load side by side, and one's success
        # must not hide the other's failure.
        result = await self.call_api(lambda api: api.transactions(query, limit=PAGE_SIZE, cursor=page_cursor),
                                     show_errors=False)
        if request != self._page_request:
            return  # a newer page or query was asked for meanwhile: this one is stale
        self._page_loading = False
        self._set_busy("table", False)
        self._report("page", result)
        if isinstance(result, errors.ApiError):
            self.table.show_page([])
            self._next_cursor = None
            self._show_page_info()
            self.refresh_bindings()
            return
        if not result.items and index > 0:
            # the page went away (the rows changed since): start again from the first
            self._cursors, self._page_index = [None], 0
            self._load_page(0, None)
            return
        self._show_page(result, index, page_cursor, cursor)

    def _show_page(self, page: TransactionPage, index: int, page_cursor: str | None, cursor: int | str) -> None:
        self._cursors = self._cursors[:index] + [page_cursor]
        self._page_index = index
        self._next_cursor = page.next_cursor
        table = self.table
        if cursor == "keep":
            cursor = table.cursor_row if table.row_count else 0
        table.show_page(page.items, self._labels, cursor=cursor)
        if self.focused is None:
            table.focus()
        self._show_page_info()
        self.refresh_bindings()

    @work(exclusive=True, group="totals", exit_on_error=False)
    async def load_totals(self, generation: int, query: TransactionQuery) -> None:
        result = await self.call_api(lambda api: api.summary(query), show_errors=False)
        if generation != self._generation:
            return  # the filters changed meanwhile
        self._set_busy("totals", False)
        self._report("totals", result)
        if isinstance(result, errors.ApiError):
            self._show_totals(failed=True)
            return
        self._summary = result
        self._show_totals()
        self._show_page_info()

    def _report(self, what: str, result: object) -> None:
        """Show a failure in the banner; hide it once neither the page nor the totals fail."""
        if isinstance(result, errors.AuthenticationError):
            return
        if isinstance(result, errors.ApiError):
            self._failed.add(what)
            self.error_banner.show(result.message, retry=not isinstance(result, errors.ForbiddenError))
        else:
            self._failed.discard(what)
            if not self._failed:
                self.error_banner.hide()

    # --- showing ------------------------------------------------------------------------

    def _show_totals(self, *, failed: bool = False) -> None:
        totals = self.query_one("#totals", Static)
        summary = self._summary
        if failed:
            totals.update(Text("Totals could not be loaded (r to retry).", style="italic"))
            return
        if summary is None:
            totals.update(Text("Adding up the window…", style="italic"))
            return
        net = summary.credits_added - summary.credits_used
        text = Text()
        text.append(f"{summary.count:,}", style="bold")
        text.append(" transaction" + ("" if summary.count == 1 else "s"))
        text.append("   Added ")
        text.append(credits_text(summary.credits_added, signed=True), style="bold green")
        text.append("   Used ")
        text.append(credits_text(-summary.credits_used, signed=True) if summary.credits_used else "0.00",
                    style="bold red" if summary.credits_used else "bold")
        text.append("   Net ")
        text.append(credits_text(net, signed=True), style="bold " + ("green" if net > 0 else "red" if net < 0 else ""))
        totals.update(text)

    def _page_range(self) -> tuple[int, int]:
        first = self._page_index * PAGE_SIZE + 1
        return first, first + self.table.row_count - 1

    def _show_page_info(self) -> None:
        info = self.query_one("#page-info", Static)
        rows = self.table.row_count
        if "page" in self._failed and not self._page_loading:
            info.update("Transactions could not be loaded (r to retry).")
        elif self._page_loading and not rows:
            info.update("Loading transactions…")
        elif not rows:
            info.update("No transactions match these filters.")
        else:
            first, last = self._page_range()
            text = f"rows {first:,}–{last:,}"
            if self._summary is not None:
                text += f" of {max(self._summary.count, last):,}"
            hints = []
            if self._page_index > 0:
                hints.append("p/PgUp previous")
            if self._next_cursor is not None:
                hints.append("n/PgDn next")
            if hints:
                text += "  ·  " + " · ".join(hints)
            if self._page_loading:
                text += "  ·  loading…"
            info.update(text)
        self.query_one("#window-info", Static).update(self._window_text() if self._query else "")

    def _window_text(self) -> str:
        """``Last 30 days: 2025-12-17 14:03 → now (UTC)``; an open window is just ``All time``."""
        if self._window == (None, None):
            return LABELS[ALL_TIME]
        return f"{LABELS.get(self._frame, 'Window').rstrip('…')}: {describe_window(self._window)} (UTC)"

    # --- actions ------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_page":
            return self._next_cursor is not None or None
        if action == "previous_page":
            return self._page_index > 0 or None
        return True

    def action_next_page(self) -> None:
        if self._next_cursor is None or self._query is None:
            return
        self._load_page(self._page_index + 1, self._next_cursor)

    def action_previous_page(self, at_end: bool = False) -> None:
        if self._page_index == 0 or self._query is None:
            return
        index = self._page_index - 1
        self._load_page(index, self._cursors[index], cursor="end" if at_end else 0)

    def on_transaction_table_page_request(self, event: TransactionTable.PageRequest) -> None:
        if event.forward:
            self.action_next_page()
        else:
            self.action_previous_page(at_end=True)

    def action_focus_search(self) -> None:
        self.search.focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    @on(DataTable.RowSelected, "#transactions")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        item = self.table.transaction(event.row_key.value)
        if item is not None and has_receipt(item):
            # A card charge opens its receipt: what finance wants; the details are one key (d) further.
            self.app.push_screen(ReceiptScreen(self.call_api, item, self._labels.get(item.process_type or "")))
        elif item is not None:
            self.show_detail(item.id)

    def show_detail(self, transaction_id: int | None = None) -> None:
        """The detail dialog of a transaction on this page (the one under the cursor by default)."""
        item = self.table.current if transaction_id is None else self.table.transaction(str(transaction_id))
        if item is None:
            return
        self.app.push_screen(TransactionDetail(item, self._labels.get(item.process_type or "")))

    def section_commands(self) -> Iterable[SystemCommand]:
        yield from super().section_commands()
        yield SystemCommand("Search transactions", "Focus the search field (/)", self.action_focus_search)
        if self._next_cursor is not None:
            yield SystemCommand("Next page", "The next 100 transactions (n)", self.action_next_page)
        if self._page_index > 0:
            yield SystemCommand("Previous page", "The previous 100 transactions (p)", self.action_previous_page)
        if self.table.current is not None:
            yield SystemCommand("Transaction details", "Every field of the selected transaction (Enter)",
                                self.show_detail)
        yield SystemCommand("Usage chart", "Show or hide credits used per day for these filters (c)",
                            self.action_toggle_chart)
        yield SystemCommand("Export CSV", "Save the transactions matching the filters to a file (e)",
                            self.action_export)

    # --- usage chart --------------------------------------------------------------------

    def action_toggle_chart(self) -> None:
        self.toggle_class("-chart")
        if self.has_class("-chart") and self._query is not None:
            self.load_chart(self._query, self._window)

    @work(exclusive=True, group="chart", exit_on_error=False)
    async def load_chart(self, query: TransactionQuery, window: tuple[datetime | None, datetime | None]) -> None:
        """Credits used per day for the query of the rows (a failure is said in the chart only)."""
        result = await self.call_api(lambda api: api.daily_usage(query), show_errors=False)
        chart = self.query_one("#usage-chart", UsageChart)
        if isinstance(result, errors.ApiError):
            chart.show_failure(f"Usage could not be loaded: {result.message} (r to retry)")
            return
        since, until = window
        # ``until`` is exclusive: a window ending at midnight ends the day before.
        last = (until - timedelta(microseconds=1)).date() if until else datetime.now(timezone.utc).date()
        chart.show(result, self._labels, since.date() if since else None, last)

    # --- export -------------------------------------------------------------------------

    def action_export(self) -> None:
        if self.exporting:
            self.notify("An export is already running.", severity="warning")
            return
        query = self._query
        if query is None:
            self.notify("Choose filters that can be searched first.", severity="warning")
            return
        summary = self._summary
        what = f"{summary.count:,} transactions" if summary is not None else "The transactions"
        description = f"{what} matching the filters shown: {self._window_text()}."

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.export_csv(query, path, summary.count if summary is not None else None)

        self.app.push_screen(ExportCsv(default_export_path(), description), chosen)

    def _show_export(self, label: str | None, *, progress: int = 0, total: int | None = None) -> None:
        bar = self.query_one("#export-bar")
        bar.set_class(label is not None, "-visible")
        if label is not None:
            self.query_one("#export-label", Static).update(label)
            self.query_one("#export-progress", ProgressBar).update(total=total, progress=progress)

    @work(exclusive=True, group="export", exit_on_error=False)
    async def export_csv(self, query: TransactionQuery, path: Path, expected: int | None = None) -> None:
        """Stream the server's CSV into ``path`` (via a ``.part`` file: a failure leaves nothing behind)."""
        self.exporting = True
        part = path.with_name(path.name + ".part")
        rows, in_quotes = 0, False
        self._show_export(f"Exporting to {path}…", total=expected)
        handle = None
        try:
            handle = await asyncio.to_thread(open, part, "wb")
            async for chunk in self.session.client.stream_csv(query):
                await asyncio.to_thread(handle.write, chunk)
                ends, in_quotes = count_csv_records(chunk, in_quotes)
                rows += ends
                shown = max(rows - 1, 0)  # the first line is the header
                self._show_export(f"Exporting to {path}… {shown:,} rows", progress=shown, total=expected)
            await asyncio.to_thread(handle.close)
            handle = None
            await asyncio.to_thread(os.replace, part, path)
        except errors.AuthenticationError:
            await self._discard(handle, part)
            self.post_message(SessionExpired())
        except errors.ApiError as error:
            await self._discard(handle, part)
            self.notify(f"The export failed: {error.message}", title="Export CSV", severity="error",
                        timeout=10, markup=False)
        except OSError as error:
            await self._discard(handle, part)
            reason = error.strerror or str(error)
            self.notify(f"Could not write {path}: {reason}.", title="Export CSV", severity="error", timeout=10,
                        markup=False)
        except BaseException:  # cancelled (the app is closing): leave no partial file behind
            await self._discard(handle, part)
            raise
        else:
            data_rows = max(rows - 1, 0)  # the first line is the header
            self.last_export = (path, data_rows)
            self.notify(f"{data_rows:,} transactions saved to {path}", title="Export CSV", timeout=10,
                        markup=False)
        finally:
            self.exporting = False
            self._show_export(None)

    @staticmethod
    async def _discard(handle, part: Path) -> None:
        def discard() -> None:
            if handle is not None:
                handle.close()
            part.unlink(missing_ok=True)

        try:
            await asyncio.to_thread(discard)
        except OSError:
            pass

    @work(exclusive=True, group="choices", exit_on_error=False)
    async def load_choices(self) -> None:
        """The process types and users for the filters (the rows show without them)."""
        async def fetch(api) -> tuple[PriceCatalog, UserList]:
            return await asyncio.gather(api.prices(), api.users())

        result = await self.call_api(fetch, show_errors=False)
        if isinstance(result, errors.ApiError):
            return  # the filters stay at "All"; a refresh tries again
        prices, users = result
        self._labels = {p.process_type: p.label for p in prices.items}
        self._set_options("#process", [("All process types", ALL)] + [(Text(p.label), p.process_type)
                                                                       for p in prices.items])
        self._set_options("#user", [("All users", ALL)] + [(Text(f"{u.name} <{u.email}>"), u.email)
                                                           for u in users.items])
        self._choices_loaded = True
        self.table.set_labels(self._labels)

    def _set_options(self, selector: str, options: list) -> None:
        select = self.query_one(selector, Select)
        chosen = select.value
        with select.prevent(Select.Changed):
            select.set_options(options)
            if chosen in {value for _, value in options}:
                select.value = chosen
