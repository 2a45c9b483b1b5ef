"""Purchases per second through HTTP with 8 concurrent clients, every credit accounted for.

``credits-tui serve`` (one worker on SQLite, four on PostgreSQL) takes POST
/credits/purchases from 8 threads, each with its own connection, for a fixed time. The
figure counts only 201s, and only if the balance moved by exactly the sum of their amounts:
a lost or doubled update makes the measure fail instead of flattering it. The floor is the
same 8 clients asking ``GET /me`` for the same time: what the HTTP stack serves when a
request does almost nothing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

import httpx

from benchmarks.suite import Context, Row, Server, served

CLIENTS = 8
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


def benchmark(context: Context) -> list[Row]:
    workers = 1 if context.is_sqlite else 4
    seconds = 1.0 if context.quick else 10.0
    target = TARGET_SQLITE if context.is_sqlite else TARGET_POSTGRES
    with served(context.database_url, workers=workers) as server:
        served_me, _ = _hammer(server, seconds, _me)
        before = _balance(server)
        started = time.perf_counter()
        bought, amount = _hammer(server, seconds, _purchase)
        elapsed = time.perf_counter() - started
        moved = _balance(server) - before
    accounted = moved == amount
    note = f"{bought} purchases, balance moved {moved} = sum of 201s" if accounted else (
        f"NOT ACCOUNTED: balance moved {moved}, the 201s add up to {amount}")
    return [Row(f"purchases/s, {CLIENTS} clients, {workers} worker{'s' if workers > 1 else ''}",
                bought / elapsed if accounted else None, "/s", target, floor=served_me / seconds,
                floor_name="GET /me/s", lower_is_better=False, note=note)]
