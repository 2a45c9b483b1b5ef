"""Purchases per second through HTTP with 8 concurrent clients, every credit accounted for.

``credits-tui serve --workers 4`` (on SQLite too: see below) takes POST /credits/purchases
from 8 threads, each with its own connection, for a fixed time. The figure counts only
201s, and only if the balance moved by exactly the sum of their amounts: a lost or doubled
update makes the measure fail instead of flattering it. The floor is the same 8 clients
asking ``GET /me`` for the same time: what the HTTP stack serves when a request does almost
nothing.

Two figures the machine's load does not distort go with it: the server's CPU time per
purchase (all its processes, from /proc), held against the budget the target rate leaves
on this machine's cores, and the SQL statements one purchase runs (counted in-process).

Four workers on SQLite too: its writes are serialised (BEGIN IMMEDIATE), each worker's
threads take turns at one lock, and the workers wait for each other in SQLite's busy handler
(30 s timeout), so more workers add CPU for the HTTP and JSON work around the short write
transactions without risking the books.

``--quick`` only shows that the measure still runs: half a second per phase, against the
runner's shared server (one worker; four would cost seconds of CPU each just to start).
Several workers writing one database are tested in tests/backend; the row's label says how
many served.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event

from benchmarks.suite import Context, Row, Server
from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.demo import DEMO_ADMIN, DEMO_PASSWORD

CLIENTS = 8
WORKERS = 4
QUICK_WORKERS = 1
TARGET_SQLITE = 300.0
TARGET_POSTGRES = 600.0
AMOUNTS = (Decimal("1.00"), Decimal("2.50"), Decimal("10.00"), Decimal("25.00"))


def _hammer(server: Server, seconds: float,
            request: Callable[[httpx.Client, int], Decimal | None]) -> tuple[int, Decimal]:
    """Run ``request`` from CLIENTS threads for ``seconds``: how many succeeded, and their sum."""
    lock = threading.Lock()
    done = [0]
    total = [Decimal(0)]
    start = threading.Barrier(CLIENTS)

    def client_loop(index: int) -> None:
        with server.client() as client:
            start.wait()
            deadline = time.perf_counter() + seconds
            count, amount, n = 0, Decimal(0), 0
            while time.perf_counter() < deadline:
                moved = request(client, index * 1_000_000 + n)
                n += 1
                if moved is not None:
                    count += 1
                    amount += moved
            with lock:
                done[0] += count
                total[0] += amount

    threads = [threading.Thread(target=client_loop, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0], total[0]


def _purchase(client: httpx.Client, n: int) -> Decimal | None:
    amount = AMOUNTS[n % len(AMOUNTS)]
    answer = client.post("/credits/purchases", json={"amount": str(amount)},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
    return amount if answer.status_code == 201 else None


def _me(client: httpx.Client, _n: int) -> Decimal | None:
    return Decimal(0) if client.get("/me").status_code == 200 else None


def _balance(server: Server) -> Decimal:
    with server.client() as client:
        return Decimal(client.get("/account/status").raise_for_status().json()["purchase_credits"])


def _processes(pid: int) -> Iterator[int]:
    """``pid`` and its descendants (uvicorn's workers are its children)."""
    yield pid
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            yield from _processes(int(child))


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time so far of a process and its descendants (Linux), or None."""
    try:
        total = 0
        for process in _processes(pid):
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except OSError:
        return None
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def _cpu(pid: int) -> Iterator[list[float]]:
    """CPU seconds the server spent in the block (empty if they cannot be read)."""
    spent: list[float] = []
    before = cpu_seconds(pid)
    yield spent
    after = cpu_seconds(pid)
    if before is not None and after is not None:
        spent.append(after - before)


def statements_per_purchase(database_url: str) -> int:
    """SQL statements (BEGIN and COMMIT not counted) of one purchase, in-process, after a warm-up."""
    database = Database(database_url)
    counted = [0]

    def count(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's, sent as a statement; PostgreSQL's is not
            counted[0] += 1

    try:
        app = create_app(Settings(database_url=database_url), database=database, migrate=False)
        with TestClient(app) as client:
            token = client.post("/api/v1/auth/tokens",
                                json={"email": DEMO_ADMIN, "password": DEMO_PASSWORD}).json()["token"]

            def buy() -> None:
                client.post("/api/v1/credits/purchases", json={"amount": "1.00"},
                            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
                            ).raise_for_status()

            buy()
            engines = {database.read_engine, database.write_engine, database.lease_engine}
            for engine in engines:
                event.listen(engine, "before_cursor_execute", count)
            buy()
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count)
    finally:
        database.dispose()
    return counted[0]


def rate_measure(workers: int) -> str:
    return f"purchases/s, {CLIENTS} clients, {workers} worker{'' if workers == 1 else 's'}"


def benchmark(context: Context) -> list[Row]:
    seconds, workers = (0.5, QUICK_WORKERS) if context.quick else (10.0, WORKERS)
    target = TARGET_SQLITE if context.is_sqlite else TARGET_POSTGRES
    with context.serving(workers) as server:
        with _cpu(server.pid) as me_cpu:
            served_me, _ = _hammer(server, seconds, _me)
        _hammer(server, seconds / 2, _purchase)  # a warm-up: every worker's statements compiled and cached
        before = _balance(server)
        started = time.perf_counter()
        with _cpu(server.pid) as purchase_cpu:
            bought, amount = _hammer(server, seconds, _purchase)
        elapsed = time.perf_counter() - started
        moved = _balance(server) - before
    statements = statements_per_purchase(context.database_url)
    accounted = moved == amount
    note = f"{bought} purchases, balance moved {moved} = sum of 201s" if accounted else (
        f"NOT ACCOUNTED: balance moved {moved}, the 201s add up to {amount}")
    rows = [Row(rate_measure(workers),
                bought / elapsed if accounted else None, "/s", target, floor=served_me / seconds,
                floor_name="GET /me/s", lower_is_better=False, note=note)]
    if purchase_cpu and me_cpu and bought and served_me:
        # The most CPU a purchase may take for the target rate with every core serving.
        budget = (os.cpu_count() or 1) * 1000 / target
        rows.append(Row("server CPU ms per purchase", purchase_cpu[0] * 1000 / bought, "ms", budget,
                        floor=me_cpu[0] * 1000 / served_me, floor_name="per GET /me",
                        note=f"target: {os.cpu_count()} cores ÷ {target:g}/s; {statements} SQL statements "
                             "per purchase"))
    return rows
