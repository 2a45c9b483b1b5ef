"""Latency of every transaction-query shape over HTTP on a large account.

Seeds Demo Co. with N transactions (once; the database file is kept for reruns), serves it
with ``credits-tui serve`` on a loopback port, and prints p50/p95 per query shape.

    python benchmarks/transactions_latency.py                       # 1,000,000 rows, SQLite
    python benchmarks/transactions_latency.py --transactions 100000 --runs 30
    python benchmarks/transactions_latency.py --database-url postgresql+psycopg://...

In ``python -m benchmarks`` each shape is a row: its p95 against the 20 ms target, beside
the floor of a trivial authenticated request (``GET /me``) timed in the same run, so the
table shows how much of a search's time is the query and how much any request costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event

if not __package__:  # run as a script, or imported by one: the repository root holds the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.suite import WARM_UPS, Context, Row, p50_p95, served
from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.migrate import upgrade
from credits_tui.backend.demo import DEMO_ADMIN, DEMO_PASSWORD, is_empty, seed_demo

TARGET_P95_MS = 20.0
# Per request: the token's check, then one statement for the page or the summary.
TARGET_STATEMENTS = 2


def seed(url: str, count: int) -> None:
    database = Database(url)
    upgrade(database)
    if is_empty(database):
        started = time.perf_counter()
        seed_demo(database, Settings(database_url=url), transactions=count)
        print(f"seeded {count:,} transactions in {time.perf_counter() - started:.1f} s")
    else:
        print("database already seeded: reusing it")
    database.dispose()


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def shapes(client: httpx.Client | TestClient, depth: int = 20) -> dict[str, tuple[str, dict]]:
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month_start = (month_start - timedelta(days=1)).replace(day=1)
    last_30 = iso(now - timedelta(days=30))
    deep = client.get("/credits/transactions", params={"limit": 500}).json()["next_cursor"]
    for _ in range(depth - 1):  # 500 × depth rows in (10,000 by default)
        deep = client.get("/credits/transactions", params={"limit": 500, "cursor": deep}).json()["next_cursor"]
    page = "/credits/transactions"
    summary = "/credits/transactions/summary"
    return {
        "page: all time": (page, {}),
        f"page: {500 * depth:,} rows deep": (page, {"cursor": deep}),
        "page: last 30 days": (page, {"since": last_30}),
        "page: last month": (page, {"since": iso(last_month_start), "until": iso(month_start)}),
        "page: type=purchase": (page, {"transaction_type": "purchase"}),
        "page: type=refund,adjustment": (page, {"transaction_type": ["refund", "adjustment"]}),
        "page: process=postcard, last month": (page, {"process_type": "postcard", "since": iso(last_month_start),
                                                      "until": iso(month_start)}),
        "page: user=email, who has rows": (page, {"user": DEMO_ADMIN}),
        "page: user=email, who has none": (page, {"user": "support@demo.example"}),
        "page: type+process+user, 90 days": (page, {"transaction_type": "usage", "process_type": "smart_match",
                                                    "user": DEMO_ADMIN, "since": iso(now - timedelta(days=90))}),
        "page: q=postcard (common)": (page, {"q": "postcard"}),
        "page: q=refund-12345 (rare)": (page, {"q": "refund 12345"}),
        "page: q=sam support, type=usage": (page, {"q": "sam support", "transaction_type": "usage"}),
        "page: q=goodwill (1 row in 70)": (page, {"q": "goodwill"}),
        "page: q=adjustment, type=refund (none)": (page, {"q": "adjustment", "transaction_type": "refund"}),
        "page: q=nothing-matches": (page, {"q": "zzzzqqq"}),
        "summary: all time": (summary, {}),
        "summary: last 30 days (partial days)": (summary, {"since": last_30}),
        "summary: this year, process=postcard": (summary, {"process_type": "postcard",
                                                           "since": iso(now.replace(month=1, day=1, hour=0,
                                                                                    minute=0, second=0))}),
        "summary: user, 90 days": (summary, {"user": DEMO_ADMIN, "since": iso(now - timedelta(days=90))}),
        "summary: q=goodwill": (summary, {"q": "goodwill"}),
    }


def measure(client: httpx.Client, path: str, params: dict, runs: int, warm_ups: int) -> list[float]:
    for _ in range(warm_ups):
        client.get(path, params=params).raise_for_status()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(path, params=params).raise_for_status()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


@dataclass
class Cost:
    """What one request costs the server, seen from inside its process (so not by other load)."""

    statements: int  # SQL statements through SQLAlchemy (SQLite's BEGIN not counted)
    # Process CPU time, the median: the server's work whatever else runs on the machine (its
    # p95 would mostly time the app's own background threads, which share the process).
    cpu_p50_ms: float


@contextmanager
def in_process(url: str) -> Iterator[tuple[TestClient, list[str]]]:
    """The app in this process, signed in as the demo admin, and the statements it executes."""
    database = Database(url)
    executed: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement != "BEGIN":
            executed.append(statement)

    for engine in {database.read_engine, database.write_engine, database.lease_engine}:
        event.listen(engine, "before_cursor_execute", record)
    app = create_app(Settings(database_url=url), database=database, migrate=False)
    try:
        with TestClient(app, base_url="http://testserver/api/v1") as client:
            answer = client.post("/auth/tokens", json={"email": DEMO_ADMIN, "password": DEMO_PASSWORD})
            client.headers["Authorization"] = f"Bearer {answer.raise_for_status().json()['token']}"
            yield client, executed
    finally:
        database.dispose()


def cost(client: TestClient, executed: list[str], path: str, params: dict, runs: int, warm_ups: int) -> Cost:
    for _ in range(warm_ups):
        client.get(path, params=params).raise_for_status()
    executed.clear()
    client.get(path, params=params).raise_for_status()
    statements = len(executed)
    timings = []
    for _ in range(runs):
        started = time.process_time()
        client.get(path, params=params).raise_for_status()
        timings.append((time.process_time() - started) * 1000)
    return Cost(statements, statistics.median(timings))


def server_costs(context: Context, depth: int) -> list[Row]:
    """Statements and server CPU per request, for the worst shape, beside GET /me's."""
    with in_process(context.database_url) as (client, executed):
        floor = cost(client, executed, "/me", {}, context.runs, context.warm_ups)
        costs = {name: cost(client, executed, path, params, context.runs, context.warm_ups)
                 for name, (path, params) in shapes(client, depth).items()}
    # An empty answer to a user filter takes a second statement, by design: is the user unknown?
    counted = [name for name in costs if "who has none" not in name]
    most = max(counted, key=lambda name: costs[name].statements)
    dearest = max(costs, key=lambda name: costs[name].cpu_p50_ms)
    return [
        Row("search: SQL statements per request, token check included", costs[most].statements, "",
            TARGET_STATEMENTS, note=f"most: {most}; GET /me: {floor.statements}; one more when a user "
                                    "filter matched nothing (is the user unknown?)"),
        Row(f"search: server CPU p50 (in process), worst · {dearest}", costs[dearest].cpu_p50_ms, "ms",
            TARGET_P95_MS, floor=floor.cpu_p50_ms, floor_name="GET /me CPU p50"),
    ]


def benchmark(context: Context) -> list[Row]:
    rows = []
    depth = max(1, min(20, context.transactions // 1000))
    with context.server.client() as client:
        floor_p50, floor = p50_p95(measure(client, "/me", {}, context.runs, context.warm_ups))
        for name, (path, params) in shapes(client, depth).items():
            p50, p95 = p50_p95(measure(client, path, params, context.runs, context.warm_ups))
            rows.append(Row(f"search p95 · {name}", p95, "ms", TARGET_P95_MS, floor=floor,
                            floor_name="GET /me p95", note=f"p50 {p50:.1f} ms (GET /me p50 {floor_p50:.1f} ms)"))
    return rows + server_costs(context, depth)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", help="default: a SQLite file under the temp dir, kept for reruns")
    args = parser.parse_args()
    url = args.database_url or (
        f"sqlite:///{Path(tempfile.gettempdir()) / f'credits-bench-{args.transactions}.db'}")
    seed(url, args.transactions)
    with served(url) as server, server.client() as client:
        print(f"\n{args.transactions:,} transactions, {args.runs} runs each, limit 100, over HTTP on loopback")
        print(f"{'shape':44} {'p50 ms':>8} {'p95 ms':>8}")
        worst = 0.0
        for name, (path, params) in shapes(client).items():
            timings = sorted(measure(client, path, params, args.runs, WARM_UPS))
            p50 = statistics.median(timings)
            p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
            worst = max(worst, p95)
            print(f"{name:44} {p50:8.1f} {p95:8.1f}")
        print(f"{'worst p95':44} {'':8} {worst:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
