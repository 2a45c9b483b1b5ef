"""The app's memory after paging through a large account, against a small account's.

Each account is served by ``credits-tui serve``; the app runs in a process of its own (so
that its resident set is its alone: Textual's pilot, a headless 120×40 terminal), opens
Manage Credits for all time and turns the page with ``n`` until the last page or the page
limit, then reports its resident set (VmRSS, after a garbage collection). The floor is the
same app on a Demo Co. of 2,000 transactions paged to its end, measured in the same run;
the target is that floor + 10 MB. ``--quick`` pages a few pages of each (300 transactions
for the floor) to show that the measure still runs.

    python -m benchmarks.memory --server URL --email EMAIL --token TOKEN --pages 100   # one measure, as JSON
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time

from benchmarks.keystroke import open_manage, private_config, signed_in_app, until
from benchmarks.suite import Context, Row, Server, python_env, served

SMALL_ACCOUNT = 2_000
QUICK_SMALL_ACCOUNT, QUICK_PAGES = 300, 6
TARGET_MB_ABOVE_SMALL = 10.0
PAGE_SIZE = 100
# Turning 10,000 pages takes the app minutes (most of it drawing each page): the paging stops
# after this long and the row says how far it got.
BUDGET_S = 600.0


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def page_through(server: Server, pages: int, budget_s: float) -> dict[str, float]:
    """Open Manage Credits for all time and turn up to ``pages`` pages (for ``budget_s`` seconds at
    most); the app's RSS then."""
    from textual import events

    from credits_tui.timeframes import ALL_TIME

    app = signed_in_app(server)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_manage(app, pilot)
        screen.time_frame.set_frame(ALL_TIME)
        await until(lambda: screen.current_query is not None and screen.current_query.since is None
                    and not screen.pager.fetching)
        screen.table.focus()
        started = time.perf_counter()
        turned = 0
        while turned < pages and screen.pager.has_next and time.perf_counter() - started < budget_s:
            # The key as the terminal sends it (the pilot's press also waits for idle and animations)
            app.post_message(events.Key("n", "n"))
            turned += 1
            await until(lambda: screen.pager.page_index == turned and not screen.pager.fetching)  # noqa: B023
        seconds = time.perf_counter() - started
        gc.collect()
        return {"rss_mb": resident_mb(), "pages": turned, "rows": (turned + 1) * PAGE_SIZE,
                "seconds_per_page": seconds / max(turned, 1)}


def measure(server: Server, pages: int, workdir: str) -> dict[str, float]:
    """``page_through`` in a fresh process (byte-code cached, as a user's install)."""
    command = [sys.executable, "-m", "benchmarks.memory", "--server", server.origin, "--email", server.email,
               "--token", server.token, "--pages", str(pages), "--budget", str(BUDGET_S), "--workdir", workdir]
    done = subprocess.run(command, env=python_env(), check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def seed_small(workdir: str, transactions: int) -> str:
    from credits_tui.backend.config import Settings
    from credits_tui.backend.db.engine import Database
    from credits_tui.backend.db.migrate import upgrade
    from credits_tui.backend.demo import seed_demo

    url = f"sqlite:///{workdir}/memory-small.db"
    database = Database(url)
    try:
        upgrade(database)
        seed_demo(database, Settings(database_url=url), transactions=transactions)
    finally:
        database.dispose()
    return url


def benchmark(context: Context) -> list[Row]:
    workdir = str(context.workdir)
    small_account, pages = ((QUICK_SMALL_ACCOUNT, QUICK_PAGES) if context.quick
                            else (SMALL_ACCOUNT, context.transactions // PAGE_SIZE))
    with served(seed_small(workdir, small_account)) as server:
        small = measure(server, small_account // PAGE_SIZE, workdir)
    large = measure(context.server, pages, workdir)
    note = (f"{large['pages']:,.0f} pages turned, {large['seconds_per_page'] * 1000:.0f} ms a page; "
            f"target: the floor + {TARGET_MB_ABOVE_SMALL:g} MB")
    return [
        Row(f"RSS after paging {large['rows']:,.0f} of {context.transactions:,} transactions (MB)",
            large["rss_mb"], "MB", small["rss_mb"] + TARGET_MB_ABOVE_SMALL, floor=small["rss_mb"],
            floor_name=f"RSS after paging {small_account:,}", note=note),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="the server's origin (http://host:port)")
    parser.add_argument("--email", required=True, help="Demo Co.'s admin, whom the token signs in")
    parser.add_argument("--token", required=True, help="a token of Demo Co.'s admin")
    parser.add_argument("--pages", type=int, default=100, help="pages to turn at most")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds of paging at most")
    parser.add_argument("--workdir", default=os.getcwd(), help="where the app's config and data go")
    args = parser.parse_args()
    server = Server(f"{args.server}/api/v1", args.token, 0, args.email)
    with private_config(args.workdir):
        print(json.dumps(asyncio.run(page_through(server, args.pages, args.budget))))


if __name__ == "__main__":
    main()
