"""Audit: who did what to the account's billing, newest first, a page at a time (admins only).

The table holds one server page and nothing else; pages are keyset-paged, so going back
re-asks for a page with the cursor it was fetched with. Every fetch runs in an exclusive
worker: a newer query cancels the older. Support staff get the server's refusal once and a
sentence saying why, never a table or a retry loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Select, Static

from credits_tui.api_client import errors
from credits_tui.api_client.models import AuditAction, AuditQuery, UserList
from credits_tui.screens.audit_detail import AuditDetail
from credits_tui.screens.base import CreditsScreen
from credits_tui.session import Session
from credits_tui.timeframes import ALL_TIME, DateError, TimeFrameChoice
from credits_tui.widgets.audit_table import AuditTable, action_label
from credits_tui.widgets.time_frame import TimeFrame

ALL = ""  # the value of every "All …" choice
DATE_DELAY = 0.8  # seconds of quiet after a typed date before judging it
REFUSED = "Only administrators can view the audit log."


@dataclass(frozen=True)
class Filters:
    """What the filter bar holds (the query is built from it, with the window as of now)."""

    time_frame: TimeFrameChoice
    action: str
    actor: str


class AuditScreen(CreditsScreen):
    SECTION = "audit"
    CSS_PATH = "audit.tcss"
    AUTO_FOCUS = "#audit-events"  # the table first: Enter, n and p work at once
    BINDINGS = [
        Binding("n", "next_page", "Next page"),
        Binding("p", "previous_page", "Prev page"),
    ]
    page_size: ClassVar[int] = 100  # tests page through the demo's few dozen rows with less

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._applied: Filters | None = None  # the filters of the query shown
        self._query: AuditQuery | None = None
        self._cursors: list[str | None] = [None]  # the cursor of each page up to the current one
        self._page_index = 0
        self._next_cursor: str | None = None
        self._loading = False
        self._failed = False
        self._users_loaded = False
        self._debounce: Timer | None = None
        self.refused = False  # the server said this role may not read the audit log

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="audit-body"):
            with Horizontal(id="audit-filters"):
                yield TimeFrame(ALL_TIME, id="audit-time-frame")  # an audit log is read newest first
                yield Select([("All actions", ALL)] + [(action_label(action), action.value) for action in AuditAction],
                             value=ALL, allow_blank=False, compact=True, id="audit-action", tooltip="Action")
                yield Select([("All users", ALL)], value=ALL, allow_blank=False, compact=True, id="audit-actor",
                             tooltip="User who acted")
            yield Static("", id="audit-message", markup=False)
            yield AuditTable(id="audit-events")
            yield Static("", id="audit-page-info", markup=False)
            yield Static(REFUSED, id="audit-refused", markup=False)

    # --- widgets ------------------------------------------------------------------------

    @property
    def table(self) -> AuditTable:
        return self.query_one(AuditTable)

    @property
    def time_frame(self) -> TimeFrame:
        return self.query_one(TimeFrame)

    @property
    def current_query(self) -> AuditQuery | None:
        """The query of the rows shown."""
        return self._query

    @property
    def settled(self) -> bool:
        """Nothing pending: no typed date waiting for a pause, no page on its way."""
        return self._debounce is None and not self._loading and (self._query is not None or self.refused)

    @property
    def page_index(self) -> int:
        return self._page_index

    @property
    def page_info(self) -> str:
        return str(self.query_one("#audit-page-info", Static).content)

    # --- filters ------------------------------------------------------------------------

    def filters(self) -> Filters:
        def value(selector: str) -> str:
            chosen = self.query_one(selector, Select).value
            return chosen if isinstance(chosen, str) else ALL

        return Filters(self.time_frame.choice, value("#audit-action"), value("#audit-actor"))

    def _say(self, message: str) -> None:
        self.query_one("#audit-message", Static).update(message)
        self.query_one("#audit-message").set_class(bool(message), "-visible")

    def _build_query(self, filters: Filters) -> AuditQuery | None:
        """The query for ``filters``, or None (with a message) when a typed date cannot be used."""
        try:
            since, until = filters.time_frame.window(datetime.now(timezone.utc))
        except DateError as error:
            self.time_frame.mark_invalid(error.field)
            self._say(f"{error}  (Showing the results of the previous filters.)")
            return None
        self.time_frame.mark_invalid(None)
        self._say("")
        return AuditQuery(since=since, until=until, action=[AuditAction(filters.action)] if filters.action else [],
                          actor=filters.actor or None)

    def _cancel_debounce(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None

    def apply_filters(self, *, refresh: bool = False) -> None:
        """Show the first page of the filters; ``refresh`` fetches again, keeping the page if they are the same."""
        self._cancel_debounce()
        filters = self.filters()
        same = filters == self._applied
        if same and not refresh:
            return  # e.g. a Select announcing the value it already had
        query = self._build_query(filters)
        if query is None:
            self._applied = None
            return
        self._applied, self._query = filters, query
        if not same:
            self._cursors, self._page_index = [None], 0
        self.load_page(query, self._page_index, self.table.cursor_row if same else 0)

    def reload(self) -> None:
        if self._loading and self.filters() == self._applied:
            return  # the same answer is on its way
        self.apply_filters(refresh=True)

    @on(Select.Changed, "#audit-action, #audit-actor")
    def _select_changed(self) -> None:
        self.apply_filters()

    @on(TimeFrame.Changed)
    def _time_frame_changed(self, event: TimeFrame.Changed) -> None:
        if event.typing:
            self._cancel_debounce()
            self._debounce = self.set_timer(DATE_DELAY, self.apply_filters)
        else:
            self.apply_filters()

    # --- loading ------------------------------------------------------------------------

    @work(exclusive=True, group="audit-page", exit_on_error=False)
    async def load_page(self, query: AuditQuery, index: int, row: int = 0) -> None:
        """Fetch page ``index`` of ``query`` (after the cursor it was first fetched with)."""
        page_cursor = self._cursors[index]
        self._loading = True
        self.table.add_class("-stale")
        self._show_page_info()
        result = await self.call_api(lambda api: api.audit(query, limit=self.page_size, cursor=page_cursor),
                                     show_errors=False)
        self._loading = False
        self.table.remove_class("-stale")
        if isinstance(result, errors.ForbiddenError):
            self._refuse(True)
            return
        if isinstance(result, errors.ApiError):
            if not isinstance(result, errors.AuthenticationError):  # that one starts a new sign-in
                self.error_banner.show(result.message)
            self._failed = True
            self._show_page_info()
            return
        if not result.items and index > 0:
            # the page went away (rows changed since): start again from the first
            self._cursors, self._page_index = [None], 0
            self.load_page(query, 0)
            return
        self._refuse(False)
        self._failed = False
        self._cursors = self._cursors[:index + 1]
        self._page_index = index
        self._next_cursor = result.next_cursor
        self.table.show_page(result.items, cursor=row)
        if self.focused is None:
            self.table.focus()
        self._show_page_info()
        self.refresh_bindings()
        if not self._users_loaded:
            self.load_users()

    def _refuse(self, refused: bool) -> None:
        """Show the refusal in place of the log (or the log again, should the role have changed)."""
        self.refused = refused
        self.set_class(refused, "-refused")
        if refused:
            self.table.show_page([])
            self._next_cursor = None
            self.refresh_bindings()

    @work(exclusive=True, group="audit-users", exit_on_error=False)
    async def load_users(self) -> None:
        """The account's users for the actor filter (the rows show without them)."""
        result = await self.call_api(lambda api: api.users(), show_errors=False)
        if isinstance(result, UserList):
            self._users_loaded = True
            select = self.query_one("#audit-actor", Select)
            chosen = select.value
            options = [("All users", ALL)] + [(Text(f"{user.name} <{user.email}>"), user.email)
                                              for user in result.items]
            with select.prevent(Select.Changed):
                select.set_options(options)
                if chosen in {value for _, value in options}:
                    select.value = chosen

    def _show_page_info(self) -> None:
        info = self.query_one("#audit-page-info", Static)
        rows = self.table.row_count
        if self._failed and not self._loading:
            info.update("The audit log could not be loaded (r to retry).")
        elif self._loading and not rows:
            info.update("Loading the audit log…")
        elif not rows:
            info.update("No audit events match these filters.")
        else:
            first = self._page_index * self.page_size + 1
            hints = (["p previous"] if self._page_index > 0 else []) + (["n next"] if self._next_cursor else [])
            info.update("  ·  ".join([f"events {first:,}–{first + rows - 1:,}", *hints]
                                     + (["loading…"] if self._loading else [])))

    # --- actions ------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_page", "previous_page") and self.refused:
            return False  # nothing to page through: not even greyed out in the footer
        if action == "next_page":
            return self._next_cursor is not None or None
        if action == "previous_page":
            return self._page_index > 0 or None
        return True

    def action_next_page(self) -> None:
        if self._next_cursor is None or self._query is None:
            return
        self._cursors = [*self._cursors[:self._page_index + 1], self._next_cursor]
        self.load_page(self._query, self._page_index + 1)

    def action_previous_page(self) -> None:
        if self._page_index > 0 and self._query is not None:
            self.load_page(self._query, self._page_index - 1)

    @on(DataTable.RowSelected, "#audit-events")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.show_detail(event.row_key.value)

    def show_detail(self, key: str | None = None) -> None:
        """The dialog of an event on this page (the one under the cursor by default)."""
        item = self.table.current if key is None else self.table.event(key)
        if item is not None:
            self.app.push_screen(AuditDetail(item))

    def section_commands(self) -> Iterable[SystemCommand]:
        yield from super().section_commands()
        if self._next_cursor is not None:
            yield SystemCommand("Next page", "Older audit events (n)", self.action_next_page)
        if self._page_index > 0:
            yield SystemCommand("Previous page", "Newer audit events (p)", self.action_previous_page)
        if self.table.current is not None:
            yield SystemCommand("Audit event details", "Every field of the selected event (Enter)", self.show_detail)
