"""Switching sections: a section's number pressed → that section shows fresh figures.

The app runs in this process (Textual's pilot, a headless terminal of 120×40) against
``credits-tui serve`` on the seeded database, as in ``keystroke.py``. Manage Credits is the
section measured: the one with the most widgets (filters, table, chart, pager) and the one
people go back and forth to. Each app opens at Status and lets it draw everything, its usage
chart included (the start is measured in ``startup.py``), then:

- first visit: ``4`` → Manage built, its first page and totals in;
- again: ``1`` (Status) then ``4`` → Manage shown again with its page and totals asked for
  again and in (the app refreshes a section each time it is switched to).

Each first visit takes a new app; the figure is the median over the apps, and over three
returns per app. The floor is the server's answer to the two requests the figures need
(the first page and the totals, one after the other), timed with a plain HTTP client in
the same run: what the app adds is building or restyling the screen, filling the table and
drawing it.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from benchmarks.keystroke import private_config, settled, signed_in_app, until
from benchmarks.suite import Context, Row, Server

if TYPE_CHECKING:
    from credits_tui.screens.manage import ManageScreen

FIRST_TARGET_MS = 300.0
AGAIN_TARGET_MS = 100.0
RETURNS = 3


async def _shown_afresh(screen: ManageScreen, before: object) -> None:
    """Until Manage shows a page and totals asked for after ``before`` (the totals it had)."""
    await until(lambda: screen.summary is not before and settled(screen) and screen.app.screen is screen)


@dataclass
class Timings:
    first: list[float] = field(default_factory=list)  # 4 pressed → Manage's page and totals in, s
    again: list[float] = field(default_factory=list)  # the same, Manage shown before
    first_cpu: list[float] = field(default_factory=list)  # this process's CPU meanwhile (the app's), s
    again_cpu: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)  # the server's page and totals, s


async def measure(server: Server, apps: int) -> Timings:
    """Each first visit and each return, the app's CPU meanwhile, and the server's time for the two requests."""
    timings = Timings()
    async with httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {server.token}"},
                                 timeout=60) as http:
        for _ in range(apps):
            await _one_app(server, http, timings)
    return timings


async def _one_app(server: Server, http: httpx.AsyncClient, timings: Timings) -> None:
    from credits_tui.screens.manage import ManageScreen
    from credits_tui.screens.status import StatusScreen
    from credits_tui.widgets.usage_chart import UsageChart

    # An app keeps the garbage collector off what its start made, once per process
    # (``freeze_what_start_up_made``): each app here starts as in a process of its own, the
    # last one's objects thawed and collected first. Without it, every app after the first
    # paid full collections over everything its start made: 435-555 ms to show Manage, 287 ms
    # for the first.
    gc.unfreeze()
    gc.collect()
    app = signed_in_app(server)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: isinstance(app.screen, StatusScreen) and app.screen.loaded)
        chart = app.screen.query_one(UsageChart)
        await until(lambda: "Loading usage" not in chart.legend)
        await pilot.pause(0.2)  # Status drawn, chart included: nothing else in flight
        cpu, started = time.process_time(), time.perf_counter()
        pressing = asyncio.create_task(pilot.press("4"))
        await until(lambda: isinstance(app.screen, ManageScreen))
        screen = app.screen
        assert isinstance(screen, ManageScreen)
        await _shown_afresh(screen, None)
        timings.first.append(time.perf_counter() - started)
        timings.first_cpu.append(time.process_time() - cpu)
        await pressing
        for _ in range(RETURNS):
            await pilot.press("1")
            status = app.screen
            assert isinstance(status, StatusScreen)
            await until(lambda status=status: not status.refreshing)  # type: ignore[misc]
            await pilot.pause(0.2)  # Status's own refresh done: nothing else in flight
            before = screen.summary
            cpu, started = time.process_time(), time.perf_counter()
            pressing = asyncio.create_task(pilot.press("4"))
            await _shown_afresh(screen, before)
            timings.again.append(time.perf_counter() - started)
            timings.again_cpu.append(time.process_time() - cpu)
            await pressing
            assert screen.current_query is not None
            params = httpx.QueryParams(screen.current_query.to_params())
            started = time.perf_counter()
            (await http.get("/credits/transactions", params=params.add("limit", "100"))).raise_for_status()
            (await http.get("/credits/transactions/summary", params=params)).raise_for_status()
            timings.floors.append(time.perf_counter() - started)


def benchmark(context: Context) -> list[Row]:
    apps = 1 if context.quick else max(3, context.runs // 5)
    with private_config(str(context.workdir)):
        timings = asyncio.run(measure(context.server, apps))
    floor = statistics.median(timings.floors) * 1000
    counts = f"{apps} apps, {len(timings.again)} returns, {context.transactions:,} transactions"

    def ms(seconds: list[float]) -> float:
        return statistics.median(seconds) * 1000

    return [
        Row("Manage Credits first shown → page and totals (ms, median)", ms(timings.first), "ms", FIRST_TARGET_MS,
            floor=floor, floor_name="server's page + totals", note=f"app CPU {ms(timings.first_cpu):.0f} ms; {counts}"),
        Row("Manage Credits shown again → page and totals (ms, median)", ms(timings.again), "ms", AGAIN_TARGET_MS,
            floor=floor, floor_name="server's page + totals", note=f"app CPU {ms(timings.again_cpu):.0f} ms; {counts}"),
    ]
