"""Search as you type in Manage Credits: one typed character → the table shows its page.

The app runs in this process (Textual's pilot, a headless terminal of 120×40) against
``credits-tui serve`` on the seeded database, signed in as the demo admin. It opens Manage
Credits, focuses the search and types words one character at a time; each figure runs from
the key press until the table holds the first page for the text typed so far (the screen's
query is that text and its page is in). The next character is typed once the totals are in
as well, so each keystroke is timed alone rather than queued behind the previous one.

The floor is the server's own answer to the same page request (``GET
/credits/transactions`` with the query's parameters and ``limit=100``), timed with a plain
HTTP client right after each keystroke, in the same run: what the app adds is figure − floor
(the search's pause, parsing the page, refilling the table).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from benchmarks.suite import Context, Row, Server, p50_p95

if TYPE_CHECKING:  # the app is imported when a measure starts, not when the runner lists modules
    from textual.pilot import Pilot

    from credits_tui.app import CreditsApp
    from credits_tui.screens.manage import ManageScreen

TARGET_MS = 100.0
WORDS = ("postcard", "goodwill", "refund 123")
POLL_S = 0.001  # how finely the table is watched (the app shares this event loop)
TIMEOUT_S = 30.0


@contextmanager
def private_config(workdir: str) -> Iterator[None]:
    """Config and data in the benchmark's scratch space: the user's own stay untouched."""
    saved = {name: os.environ.get(name) for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "TEXTUAL_ANIMATIONS")}
    os.environ.update(XDG_CONFIG_HOME=f"{workdir}/config", XDG_DATA_HOME=f"{workdir}/data",
                      TEXTUAL_ANIMATIONS="none")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def until(condition: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(POLL_S)


def signed_in_app(server: Server) -> CreditsApp:
    from credits_tui.app import Connection, CreditsApp
    from credits_tui.auth.tokens import TokenStore

    connection = Connection(server.origin, server.email, server.token, remember_token=False)
    return CreditsApp(connection, store=TokenStore())


async def open_manage(app: CreditsApp, pilot: Pilot[Any]) -> ManageScreen:
    """Switch to Manage Credits and wait until its first page and totals are in."""
    from credits_tui.screens.manage import ManageScreen
    from credits_tui.screens.status import StatusScreen

    await until(lambda: isinstance(app.screen, StatusScreen))
    await pilot.press("4")
    await until(lambda: isinstance(app.screen, ManageScreen) and settled(app.screen))
    assert isinstance(app.screen, ManageScreen)
    return app.screen


def settled(screen: ManageScreen) -> bool:
    return not screen.filter_bar.pending and not screen.pager.fetching and screen.summary is not None


def shows(screen: ManageScreen, text: str) -> bool:
    """The table holds the first page for the search ``text``."""
    query = screen.current_query
    return query is not None and query.q == text and not screen.pager.fetching


@dataclass
class Timings:
    keystrokes: list[float] = field(default_factory=list)  # key press → its page shown, s
    cpu: list[float] = field(default_factory=list)  # this process's CPU meanwhile (the app's), s
    floors: list[float] = field(default_factory=list)  # the server's answer to the same page, s


async def measure(server: Server, words: tuple[str, ...]) -> Timings:
    """Per keystroke: until its page shows, the app's CPU meanwhile, and the server's time for that page."""
    app = signed_in_app(server)
    timings = Timings()
    async with httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {server.token}"},
                                 timeout=60) as http, app.run_test(size=(120, 40)) as pilot:
        screen = await open_manage(app, pilot)
        await pilot.press("slash")
        for word in words:
            await pilot.press("ctrl+u")  # an empty search again
            await until(lambda: screen.current_query is not None and screen.current_query.q is None
                        and settled(screen))
            for typed in range(1, len(word) + 1):
                text = word[:typed].strip()
                if word[typed - 1] == " ":  # the same search as before (the text is trimmed): not a measure
                    await pilot.press("space")
                    continue
                key = word[typed - 1]
                cpu, started = time.process_time(), time.perf_counter()
                # (pilot.press returns once the app is idle, totals and all: the table is watched meanwhile)
                pressing = asyncio.create_task(pilot.press(key))
                await until(lambda text=text: shows(screen, text))  # type: ignore[misc]
                timings.keystrokes.append(time.perf_counter() - started)
                timings.cpu.append(time.process_time() - cpu)
                await pressing
                await until(lambda: settled(screen))
                assert screen.current_query is not None
                params = httpx.QueryParams([*screen.current_query.to_params(), ("limit", "100")])
                started = time.perf_counter()
                (await http.get("/credits/transactions", params=params)).raise_for_status()
                timings.floors.append(time.perf_counter() - started)
    return timings


def benchmark(context: Context) -> list[Row]:
    words = WORDS[:1] if context.quick else WORDS * max(1, context.runs // 25)
    with private_config(str(context.workdir)):
        timings = asyncio.run(measure(context.server, words))
    p50, p95 = p50_p95([s * 1000 for s in timings.keystrokes])
    floor50, floor95 = p50_p95([s * 1000 for s in timings.floors])
    note = (f"{len(timings.keystrokes)} keystrokes, {context.transactions:,} transactions; "
            f"app CPU {statistics.median(timings.cpu) * 1000:.0f} ms per keystroke (median)")
    return [
        Row("keystroke → table shows its page (ms, p50)", p50, "ms", TARGET_MS, floor=floor50,
            floor_name="server's page, p50", note=note),
        Row("keystroke → table shows its page (ms, p95)", p95, "ms", TARGET_MS, floor=floor95,
            floor_name="server's page, p95", note=note),
    ]
