"""Manage Credits' filters: the time frame, transaction type, process type, user and a search.

The bar turns what is typed into a ``TransactionQuery`` (or says why it cannot) and posts
``FilterBar.Changed`` once a change settles: at once for a choice, after a pause for typing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Select, Static

from credits_tui.api_client.models import PriceCatalog, TransactionQuery, TransactionType, UserList
from credits_tui.formatting import type_label
from credits_tui.timeframes import DateError, TimeFrameChoice, Window
from credits_tui.widgets.time_frame import TimeFrame

# Search as you type: a key searches at once, unless the last search started less than this
# many seconds ago; then one search at the end of that interval reads the text as it is by
# then (a burst of keys, a paste). The server answers a page in a few milliseconds and a newer
# search cancels the one in flight (Manage's exclusive workers): waiting for a pause in the
# typing was most of the lag people felt.
SEARCH_DELAY = 0.05
DATE_DELAY = 0.8  # a date is longer to type: wait a little more before judging it
ALL = ""  # the value of every "All …" choice


@dataclass(frozen=True)
class Filters:
    """What the filter bar holds, as typed (the query is built from it)."""

    time_frame: TimeFrameChoice
    transaction_type: str
    process_type: str
    user: str
    q: str


DEFAULT_FILTERS = Filters(TimeFrameChoice(), ALL, ALL, ALL, "")  # what the bar holds at first


@dataclass(frozen=True)
class Search:
    """A usable query and the window it covers (``frame`` names it: ``30d``, ``custom``…)."""

    query: TransactionQuery
    window: Window
    frame: str


class Unsearchable(ValueError):
    """Filters that cannot be searched as they are; ``str()`` says why, for a person."""


def search_of(filters: Filters, now: datetime) -> Search:
    """The query for ``filters`` at ``now``; ``DateError`` or ``Unsearchable`` when one cannot be used."""
    since, until = filters.time_frame.window(now)
    if filters.q and not any(ch.isalnum() for ch in filters.q):
        raise Unsearchable("Search for at least one letter or digit.")
    query = TransactionQuery(
        since=since, until=until,
        transaction_type=[TransactionType(filters.transaction_type)] if filters.transaction_type else [],
        process_type=[filters.process_type] if filters.process_type else [],
        user=filters.user or None, q=filters.q or None,
    )
    return Search(query, (since, until), filters.time_frame.frame)


class FilterBar(Vertical):
    DEFAULT_CSS = """
    FilterBar {
        height: auto;
        #filter-bar { height: auto; margin-top: 1; }
        #time-frame { width: 28; margin-right: 2; }
        #filter-bar > Select { width: 1fr; margin-right: 2; }
        #filter-bar > #user { margin-right: 0; }
        #filter-bar SelectCurrent #label { text-wrap: nowrap; text-overflow: ellipsis; }
        /* An open list is as wide as its longest option (within the screen), one line each. */
        #filter-bar SelectOverlay { width: auto; min-width: 100%; max-width: 72; constrain: inside inside;
                                    text-wrap: nowrap; text-overflow: ellipsis; }
        #search-bar { height: 1; margin-top: 1; }
        #search { width: 1fr; }
        #filter-message { display: none; height: auto; color: $error; }
        #filter-message.-visible { display: block; }
    }
    """

    class Changed(Message):
        """The filters changed and the change has settled (``submitted``: Enter in the search)."""

        def __init__(self, submitted: bool = False) -> None:
            super().__init__()
            self.submitted = submitted

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._debounce: Timer | None = None
        self._searched_at = float("-inf")  # when typing last started a search (time.monotonic)
        self.choices_loaded = False  # the process types and users are offered (else only "All")

    def compose(self) -> ComposeResult:
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

    @property
    def time_frame(self) -> TimeFrame:
        return self.query_one(TimeFrame)

    @property
    def search(self) -> Input:
        return self.query_one("#search", Input)

    @property
    def message(self) -> str:
        """Why the filters cannot be searched as they are ("" when they can)."""
        return str(self.query_one("#filter-message", Static).content)

    @property
    def pending(self) -> bool:
        """A change is waiting for a pause in the typing."""
        return self._debounce is not None

    def filters(self) -> Filters:
        def value(selector: str) -> str:
            chosen = self.query_one(selector, Select).value
            return chosen if isinstance(chosen, str) else ALL

        return Filters(self.time_frame.choice, value("#type"), value("#process"), value("#user"),
                       self.search.value.strip())

    def search_for(self, filters: Filters) -> Search | None:
        """The query for ``filters``, or None (and the reason shown) when one of them cannot be used."""
        self.cancel_pending()
        try:
            search = search_of(filters, datetime.now(timezone.utc))
        except DateError as error:
            self.time_frame.mark_invalid(error.field)
            self._say(f"{error}  (Showing the results of the previous filters.)")
            return None
        except Unsearchable as error:
            self.time_frame.mark_invalid(None)
            self._say(str(error))
            return None
        self.time_frame.mark_invalid(None)
        self._say("")
        return search

    def set_choices(self, prices: PriceCatalog, users: UserList) -> None:
        self._set_options("#process", [("All process types", ALL)] + [(Text(p.label), p.process_type)
                                                                       for p in prices.items])
        self._set_options("#user", [("All users", ALL)] + [(Text(f"{u.name} <{u.email}>"), u.email)
                                                           for u in users.items])
        self.choices_loaded = True

    def _set_options(self, selector: str, options: list[tuple[str | Text, str]]) -> None:
        select: Select[str] = self.query_one(selector, Select)
        chosen = select.value
        with select.prevent(Select.Changed):
            select.set_options(options)
            if chosen in {value for _, value in options}:
                select.value = chosen

    def _say(self, message: str) -> None:
        line = self.query_one("#filter-message", Static)
        if str(line.content) != message:  # (said on every search: an update lays the screen out again)
            line.update(message)
            line.set_class(bool(message), "-visible")

    def cancel_pending(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None

    def _changed_later(self, delay: float) -> None:
        """Post ``Changed`` after ``delay`` seconds of quiet (each change restarts the wait)."""
        self.cancel_pending()
        self._debounce = self.set_timer(delay, self._changed)

    def _changed(self, submitted: bool = False) -> None:
        self._debounce = None
        self.post_message(self.Changed(submitted))

    @on(TimeFrame.Changed)
    def _time_frame_changed(self, event: TimeFrame.Changed) -> None:
        event.stop()
        if event.typing:
            self._changed_later(DATE_DELAY)
        else:
            self._changed()

    @on(Select.Changed, "#type, #process, #user")
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._changed()

    @on(Input.Changed, "#search")
    def _search_typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._debounce is not None:
            return  # a search is due shortly: it reads the text as it is by then
        wait = self._searched_at + SEARCH_DELAY - time.monotonic()
        if wait > 0:
            self._debounce = self.set_timer(wait, self._search_typed_now)
        else:
            self._search_typed_now()

    def _search_typed_now(self) -> None:
        self._searched_at = time.monotonic()
        self._changed()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.cancel_pending()
        self._changed(submitted=True)


__all__ = ["ALL", "FilterBar", "Filters", "Search"]
