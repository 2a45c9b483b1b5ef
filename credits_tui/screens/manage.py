"""Manage Credits: search every transaction, a page at a time, with the window's totals and CSV export.

The filter bar says when the filters change; the screen asks the server for the page, then
(once the page is in) the totals (the first page and totals side by side, while the screen
is built), and (when shown) the usage chart, each in its own exclusive
worker, and pushes what came back down to the table, the pager and the totals line. The table holds one server page
(100 rows) and nothing else, so memory does not grow with the account. Every fetch carries a
request number: a result that is no longer the newest is dropped, never shown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import PriceCatalog, TransactionPage, TransactionQuery, TransactionSummary, UserList
from credits_tui.formatting import amount_text
from credits_tui.screens.base import CreditsScreen
from credits_tui.screens.export_csv import ExportCsv, default_export_path
from credits_tui.screens.receipt import ReceiptScreen, has_receipt
from credits_tui.screens.transaction_detail import TransactionDetail
from credits_tui.session import Session
from credits_tui.timeframes import ALL_TIME, LABELS, describe_window
from credits_tui.widgets.export_progress import ExportProgress
from credits_tui.widgets.filter_bar import DEFAULT_FILTERS, FilterBar, Filters, Search, search_of
from credits_tui.widgets.pager import PAGE_SIZE, Pager
from credits_tui.widgets.time_frame import TimeFrame
from credits_tui.widgets.transaction_table import TransactionTable
from credits_tui.widgets.usage_chart import UsageChart

STALE_DELAY = 0.1  # a fetch quicker than this leaves the old rows undimmed until the new ones show
BUSY_DELAY = 0.2  # a fetch quicker than this shows no spinner (no flicker on paging)


def totals_text(summary: TransactionSummary) -> Text:
    """``300 transactions   Added +1,000.00   Used -250.00   Net +750.00``."""
    text = Text()
    text.append(f"{summary.count:,}", style="bold")
    text.append(" transaction" + ("" if summary.count == 1 else "s"))
    text.append("   Added ")
    text.append(amount_text(summary.credits_added, style="bold"))
    text.append("   Used ")
    text.append(amount_text(-summary.credits_used, style="bold"))
    text.append("   Net ")
    text.append(amount_text(summary.credits_added - summary.credits_used, style="bold"))
    return text


@dataclass(frozen=True)
class FirstLook:
    """Manage's first page and totals, asked for while the screen is built (``ask_ahead``)."""

    filters: Filters
    search: Search
    page: TransactionPage
    totals: TransactionSummary


async def first_look(api: CreditsClient, filters: Filters, search: Search) -> FirstLook:
    page, totals = await asyncio.gather(api.transactions(search.query, limit=PAGE_SIZE), api.summary(search.query))
    return FirstLook(filters, search, page, totals)


class ManageScreen(CreditsScreen):
    SECTION = "manage"
    CSS_PATH = "manage.tcss"
    AUTO_FOCUS = "#transactions"  # the table first: Enter, n, p and e work at once
    BINDINGS = [
        Binding("slash", "focus_search", "Search", key_display="/"),
        # Short labels, so that every key hint fits 80 columns beside the table's; the help says them in full.
        Binding("n", "next_page", "Next", tooltip="Next page"),
        Binding("p", "previous_page", "Prev", tooltip="Previous page"),
        Binding("pagedown", "next_page", "Next page", show=False),
        Binding("pageup", "previous_page", "Prev page", show=False),
        Binding("e", "export", "CSV", tooltip="Export CSV"),
        Binding("c", "toggle_chart", "Chart"),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.current_query: TransactionQuery | None = None  # the query of the rows and totals shown
        self.summary: TransactionSummary | None = None  # the totals shown (None while they load)
        self._search: Search | None = None  # the query shown, with its window
        self._applied: Filters | None = None  # the filters that query came from
        self._generation = 0  # bumped by every new query: totals of an older one are dropped
        self._page_request = 0  # bumped by every page fetch: an older page is dropped
        self._labels: dict[str, str] = {}
        self._busy_timers: dict[str, list[Timer]] = {}
        self._totals_due: tuple[int, TransactionQuery] | None = None  # asked for once the page is in
        self._failed: set[str] = set()  # which of "page" and "totals" failed last time
        self._paging = (False, False)  # whether the page shown has a next and a previous page

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="manage-body"):
            yield FilterBar(id="filters")
            yield Static("", id="totals", markup=False)
            yield UsageChart("Credits used", id="usage-chart")
            yield TransactionTable(id="transactions")
            yield Pager(id="pager")
            yield ExportProgress(id="export-bar")

    @classmethod
    def ask_ahead(cls, session: Session) -> None:
        # Building the screen (about 125 widgets) takes longer than the server needs for the
        # first page and its totals, and the server has nothing else to do meanwhile: both are
        # asked for before it, side by side (later the totals wait for the page, see apply_filters).
        search = search_of(DEFAULT_FILTERS, datetime.now(timezone.utc))
        session.ask_ahead(cls.SECTION, first_look(session.client, DEFAULT_FILTERS, search))

    @property
    def table(self) -> TransactionTable:
        return self.query_one(TransactionTable)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    @property
    def pager(self) -> Pager:
        return self.query_one(Pager)

    @property
    def time_frame(self) -> TimeFrame:
        return self.filter_bar.time_frame

    @property
    def search(self) -> Input:
        return self.filter_bar.search

    # --- what it reacts to ----------------------------------------------------------------

    def reload(self) -> None:
        if not self.filter_bar.choices_loaded:
            self.load_choices()
        early = self.session.take_ahead(self.SECTION)
        if early is None:
            self.apply_filters(refresh=True)
            return
        self._applied = self.filter_bar.filters()  # the bar announcing them as it mounts is no news
        self.take_first_look(early)

    @on(FilterBar.Changed)
    def _filters_changed(self, event: FilterBar.Changed) -> None:
        self.apply_filters()
        if event.submitted:
            self.table.focus()

    def apply_filters(self, *, refresh: bool = False) -> None:
        """Show the filters' first page and totals; ``refresh`` fetches again, keeping the page."""
        filters = self.filter_bar.filters()
        same = filters == self._applied
        if same and not refresh:
            self.filter_bar.cancel_pending()
            return  # e.g. a Select announcing the value it already had
        search = self.filter_bar.search_for(filters)
        if search is None:
            self._applied = None
            return
        self._show_search(filters, search, same=same)
        index = self.pager.page_index
        self._load_page(index, self.pager.cursor_of(index), cursor="keep" if same else 0)
        self._set_busy("totals", True)
        # The totals scan the whole window; asked for together with the page they slow it down on
        # the server. The rows are what people wait for: the totals are asked for once they are in.
        self._totals_due = (self._generation, search.query)

    def _show_search(self, filters: Filters, search: Search, *, same: bool) -> None:
        """Make ``search`` the query shown: its window, its totals to come, its chart if shown."""
        self._applied, self._search, self.current_query = filters, search, search.query
        self._generation += 1
        pager = self.pager
        if not same:
            pager.first_page()
        pager.window = self._window_text()
        self.summary = pager.total = None
        self._show_totals()
        if self.has_class("-chart"):
            self.load_chart(search)

    def on_transaction_table_page_request(self, event: TransactionTable.PageRequest) -> None:
        if event.forward:
            self.action_next_page()
        else:
            self.action_previous_page(at_end=True)

    @on(DataTable.RowSelected, "#transactions")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        item = self.table.transaction(event.row_key.value)
        if item is not None and has_receipt(item):
            # A card charge opens its receipt: what finance wants; the details are one key (d) further.
            self.app.push_screen(ReceiptScreen(self.call_api, item, self._labels.get(item.process_type or "")))
        elif item is not None:
            self.show_detail(item.id)

    # --- actions ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_page":
            return self._paging[0] or None
        if action == "previous_page":
            return self._paging[1] or None
        return True

    def action_next_page(self) -> None:
        pager = self.pager
        if pager.has_next and self.current_query is not None:
            self._load_page(pager.page_index + 1, pager.next_cursor)

    def action_previous_page(self, at_end: bool = False) -> None:
        pager = self.pager
        if pager.page_index == 0 or self.current_query is None:
            return
        index = pager.page_index - 1
        self._load_page(index, pager.cursor_of(index), cursor="end" if at_end else 0)

    def action_focus_search(self) -> None:
        self.search.focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    def show_detail(self, transaction_id: int | None = None) -> None:
        """The detail dialog of a transaction on this page (the one under the cursor by default)."""
        item = self.table.current if transaction_id is None else self.table.transaction(str(transaction_id))
        if item is not None:
            self.app.push_screen(TransactionDetail(item, self._labels.get(item.process_type or "")))

    def action_toggle_chart(self) -> None:
        self.toggle_class("-chart")
        if self.has_class("-chart") and self._search is not None:
            self.load_chart(self._search)

    def action_export(self) -> None:
        export = self.query_one(ExportProgress)
        if export.exporting:
            self.notify("An export is already running.", severity="warning")
            return
        query, summary = self.current_query, self.summary
        if query is None:
            self.notify("The transactions are still loading: export them once they are shown.", severity="warning")
            return
        if self._applied is None:
            # With a filter that cannot be searched (an end date past 9999), the table still shows
            # the previous filters' rows: exporting those as "the filters shown" would not be them.
            self.notify("Fix the filters first: the ones shown cannot be searched, and the table still "
                        "shows the previous ones.", severity="warning")
            return
        what = f"{summary.count:,} transactions" if summary is not None else "The transactions"
        description = f"{what} matching the filters shown: {self._window_text()}."

        def chosen(path: Path | None) -> None:
            if path is not None:
                export.export(self.session.client.stream_csv(query), path,
                              summary.count if summary is not None else None)

        self.app.push_screen(ExportCsv(default_export_path(), description), chosen)

    def section_commands(self) -> Iterable[SystemCommand]:
        yield from super().section_commands()
        yield SystemCommand("Search transactions", "Focus the search field (/)", self.action_focus_search)
        if self.pager.has_next:
            yield SystemCommand("Next page", "The next 100 transactions (n)", self.action_next_page)
        if self.pager.page_index > 0:
            yield SystemCommand("Previous page", "The previous 100 transactions (p)", self.action_previous_page)
        if self.table.current is not None:
            yield SystemCommand("Transaction details", "Every field of the selected transaction (Enter)",
                                self.show_detail)
        yield SystemCommand("Usage chart", "Show or hide credits used per day for these filters (c)",
                            self.action_toggle_chart)
        yield SystemCommand("Export CSV", "Save the transactions matching the filters to a file (e)",
                            self.action_export)

    # --- what it asks the server ------------------------------------------------------------
    # The banner is left to _report: page and totals load side by side, and one's success must
    # not hide the other's failure.

    def _load_page(self, index: int, page_cursor: str | None, *, cursor: int | str = 0) -> None:
        """Fetch page ``index`` (which starts after ``page_cursor``); ``cursor`` places the row cursor."""
        assert self.current_query is not None
        self._page_request += 1
        self.pager.fetching = True
        self._set_busy("table", True)
        self.load_page(self._page_request, self.current_query, index, page_cursor, cursor)

    @work(exclusive=True, group="transactions", exit_on_error=False)
    async def take_first_look(self, early: asyncio.Future[FirstLook]) -> None:
        """Show the first page and totals asked for while the screen was built; should they have
        failed, or the filters changed meanwhile, ask again the usual way."""
        self._page_request += 1
        request = self._page_request
        self.pager.fetching = True
        self._set_busy("table", True)
        self._show_totals()  # "Adding up the window…" meanwhile
        result = await self.call_api(lambda _api: early, show_errors=False)
        if request != self._page_request:
            return  # a page of other filters was asked for meanwhile
        if isinstance(result, errors.ApiError) or result.filters != self._applied:
            self.apply_filters(refresh=True)  # (which says what fails, if it fails again)
            return
        self._set_busy("table", False)
        self._show_search(result.filters, result.search, same=False)
        self._report("page", result.page)
        self._show_page(result.page, 0, None, 0)
        self._show_summary(self._generation, result.totals)

    @work(exclusive=True, group="transactions", exit_on_error=False)
    async def load_page(self, request: int, query: TransactionQuery, index: int, page_cursor: str | None,
                        cursor: int | str) -> None:
        result = await self.call_api(lambda api: api.transactions(query, limit=PAGE_SIZE, cursor=page_cursor),
                                     show_errors=False)
        if request != self._page_request:
            return  # a newer page or query was asked for meanwhile: this one is stale
        self._set_busy("table", False)
        if self._totals_due is not None:
            self.load_totals(*self._totals_due)
            self._totals_due = None
        self._report("page", result)
        pager = self.pager
        if isinstance(result, errors.ApiError):
            self.table.show_page([])
            pager.next_cursor, pager.has_next, pager.rows = None, False, 0
            pager.failed, pager.fetching = True, False
            self._show_paging_keys()
            return
        if not result.items and index > 0:
            # the page went away (the rows changed since): start again from the first
            pager.first_page()
            self._load_page(0, None)
            return
        self._show_page(result, index, page_cursor, cursor)

    def _show_page(self, page: TransactionPage, index: int, page_cursor: str | None, cursor: int | str) -> None:
        table = self.table
        if cursor == "keep":
            cursor = table.cursor_row if table.row_count else 0
        table.show_page(page.items, self._labels, cursor=cursor)
        self.pager.turned(index, page_cursor, page.next_cursor, table.row_count)
        if self.focused is None:
            table.focus()
        self._show_paging_keys()

    def _show_paging_keys(self) -> None:
        """Offer n and p as the page shown allows. Only a change refreshes the bindings: the footer
        is rebuilt each time, which would cost every typed search a good part of its refresh."""
        paging = (self.pager.has_next, self.pager.page_index > 0)
        if paging != self._paging:
            self._paging = paging
            self.refresh_bindings()

    @work(exclusive=True, group="totals", exit_on_error=False)
    async def load_totals(self, generation: int, query: TransactionQuery) -> None:
        self._show_summary(generation, await self.call_api(lambda api: api.summary(query), show_errors=False))

    def _show_summary(self, generation: int, result: TransactionSummary | errors.ApiError) -> None:
        if generation != self._generation:
            return  # the filters changed meanwhile
        self._set_busy("totals", False)
        self._report("totals", result)
        if isinstance(result, errors.ApiError):
            self._show_totals(failed=True)
            return
        self.summary = result
        self.pager.total = result.count
        self._show_totals()

    @work(exclusive=True, group="chart", exit_on_error=False)
    async def load_chart(self, search: Search) -> None:
        """Credits used per day for the query of the rows (a failure is said in the chart only)."""
        result = await self.call_api(lambda api: api.daily_usage(search.query), show_errors=False)
        chart = self.query_one("#usage-chart", UsageChart)
        if isinstance(result, errors.ApiError):
            chart.show_failure(f"Usage could not be loaded: {result.message} (r to retry)")
            return
        since, until = search.window
        # ``until`` is exclusive: a window ending at midnight ends the day before.
        last = (until - timedelta(microseconds=1)).date() if until else datetime.now(timezone.utc).date()
        chart.show(result, self._labels, since.date() if since else None, last)

    @work(exclusive=True, group="choices", exit_on_error=False)
    async def load_choices(self) -> None:
        """The process types and users for the filters (the rows show without them)."""
        async def fetch(api: CreditsClient) -> tuple[PriceCatalog, UserList]:
            prices, users = await asyncio.gather(api.prices(), api.users())
            return prices, users

        result = await self.call_api(fetch, show_errors=False)
        if isinstance(result, errors.ApiError):
            return  # the filters stay at "All"; a refresh tries again
        prices, users = result
        self._labels = {p.process_type: p.label for p in prices.items}
        self.filter_bar.set_choices(prices, users)
        self.table.set_labels(self._labels)

    # --- showing ------------------------------------------------------------------------------

    def _report(self, what: str, result: object) -> None:
        """Show a failure in the banner; hide it once neither the page nor the totals fail."""
        if isinstance(result, errors.AuthenticationError):
            return
        if isinstance(result, errors.ApiError):
            self._failed.add(what)
            self.show_error(result)
        else:
            self._failed.discard(what)
            if not self._failed:
                self.error_banner.hide()

    def _set_busy(self, what: str, busy: bool) -> None:
        """Mark the table or the totals as loading, if it lasts: an answer within STALE_DELAY just
        replaces what is shown (no flicker as you type); later it is dimmed, the table then spins."""
        widget = self.table if what == "table" else self.query_one("#totals")
        for timer in self._busy_timers.pop(what, []):
            timer.stop()
        if not busy:
            widget.remove_class("-stale")
            self._spin(widget, False)
            return
        timers: list[Timer] = []

        def later(change: Callable[[], object]) -> Callable[[], None]:
            def run() -> None:
                # a timer's callback is queued, so it can run after a stop(): check it still applies
                if self._busy_timers.get(what) is timers:
                    change()
            return run

        timers.append(self.set_timer(STALE_DELAY, later(lambda: widget.add_class("-stale"))))
        if what == "table":  # the totals say "Adding up the window…" meanwhile: no spinner over that
            timers.append(self.set_timer(BUSY_DELAY, later(lambda: self._spin(widget, True))))
        self._busy_timers[what] = timers

    def _spin(self, widget: Widget, spinning: bool) -> None:
        """The loading spinner over ``widget``. While it spins the widget's keys are not active
        (Textual leaves a loading widget out of the bindings), and Textual does not tell the
        footer when they come back: the screen says so itself."""
        if widget.loading != spinning:
            widget.loading = spinning
            self.refresh_bindings()

    def _show_totals(self, *, failed: bool = False) -> None:
        if failed:
            text = Text("Totals could not be loaded (r to retry).", style="italic")
        elif self.summary is None:
            text = Text("Adding up the window…", style="italic")
        else:
            text = totals_text(self.summary)
        # One line whatever it says (manage.tcss): no layout of the screen, which costs a keystroke
        # (search as you type) more than the rest of its refresh.
        self.query_one("#totals", Static).update(text, layout=False)

    def _window_text(self) -> str:
        """``Last 30 days: 2025-12-17 14:03 → now (UTC)``; an open window is just ``All time``."""
        search = self._search
        if search is None:
            return ""
        if search.window == (None, None):
            return LABELS[ALL_TIME]
        return f"{LABELS.get(search.frame, 'Window').rstrip('…')}: {describe_window(search.window)} (UTC)"
