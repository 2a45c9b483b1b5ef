"""What every benchmark module shares: its context, the rows it reports, a served backend.

A benchmark module in ``benchmarks/`` joins ``python -m benchmarks`` by defining

    def benchmark(context: Context) -> list[Row]: ...

The runner calls it once per database (SQLite, then PostgreSQL when a URL is given), after
seeding Demo Co. with ``context.transactions`` rows into ``context.database_url``; the
module may use ``context.server`` (that database served with one worker, started once for
all the modules of the run), ``context.serving(workers)`` or ``served(...)`` for HTTP, and
must leave the database usable for the next module (adding rows is fine). Sizes and
repetitions come from the context, so ``--quick`` (2,000 rows, one run) keeps CI fast.
"""

from __future__ import annotations

import contextlib
import functools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

WARM_UPS = 3


@dataclass(frozen=True)
class Context:
    database: str  # "sqlite" or "postgresql": the table's first column
    database_url: str  # Demo Co. seeded with ``transactions`` rows
    transactions: int
    runs: int  # timed repetitions per measure (after a warm-up)
    quick: bool
    workdir: Path  # scratch space that outlives the module (removed by the runner)
    stack: contextlib.ExitStack  # what the runner closes after the last module (the shared server)

    @property
    def is_sqlite(self) -> bool:
        return self.database == "sqlite"

    @property
    def warm_ups(self) -> int:
        """Untimed requests before a query shape's timed ones (caches, psycopg's prepared statements)."""
        return 1 if self.quick else WARM_UPS

    @functools.cached_property
    def server(self) -> Server:
        """``database_url`` served with one worker: started when a module first asks, then shared
        (each start costs seconds of CPU importing the backend)."""
        return self.stack.enter_context(served(self.database_url))

    def serving(self, workers: int) -> contextlib.AbstractContextManager[Server]:
        """``database_url`` served with ``workers`` workers: the shared server when one will do."""
        return contextlib.nullcontext(self.server) if workers == 1 else served(self.database_url, workers=workers)


@dataclass(frozen=True)
class Row:
    """One measure against its target, and the floor it is compared to in the same run.

    ``target`` is an upper bound (``lower_is_better``) or a lower bound, on ``figure`` or, when
    ``target_is_ratio``, on ``figure / floor``. A figure of None means the measure could not
    be taken; ``note`` says why.
    """

    measure: str
    figure: float | None
    unit: str
    target: float
    floor: float | None = None
    floor_name: str = ""
    lower_is_better: bool = True
    target_is_ratio: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.figure is None or not self.floor:
            return None
        return self.figure / self.floor

    @property
    def met(self) -> bool:
        value = self.ratio if self.target_is_ratio else self.figure
        if value is None:
            return False
        return value <= self.target if self.lower_is_better else value >= self.target


def percentile(timings: Sequence[float], fraction: float) -> float:
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def p50_p95(timings: Sequence[float]) -> tuple[float, float]:
    return statistics.median(timings), percentile(timings, 0.95)


@dataclass(frozen=True)
class Server:
    base_url: str  # ends in /api/v1
    token: str  # the demo admin's
    pid: int  # the serving process (its CPU time is a figure of its own)
    email: str  # whom the token signs in (the demo admin)

    @property
    def origin(self) -> str:
        return self.base_url.removesuffix("/api/v1")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60)


@contextlib.contextmanager
def served(database_url: str, *, workers: int = 1) -> Iterator[Server]:
    """``credits-tui serve`` on a free loopback port, with the demo admin signed in."""
    # Imported here, not with the module: the backend takes seconds of CPU to import, and the
    # app's own processes (benchmarks.memory) import this module without serving anything.
    from credits_tui.backend.demo import DEMO_ADMIN, DEMO_PASSWORD
    from credits_tui.embedded import free_port

    port = free_port()
    command = [sys.executable, "-m", "credits_tui.cli", "serve", "--port", str(port), "--log-level", "warning",
               "--workers", str(workers)]
    process = subprocess.Popen(command, env={**python_env(), "CREDITS_DATABASE_URL": database_url})
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 60
        # One client for every attempt: a new one each time loads the TLS context again (tens of ms of CPU).
        with httpx.Client(base_url=base) as client:
            while True:
                try:
                    answer = client.post("/auth/tokens", json={"email": DEMO_ADMIN, "password": DEMO_PASSWORD})
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        answer.raise_for_status()
        yield Server(base, answer.json()["token"], process.pid, DEMO_ADMIN)
    finally:
        process.terminate()
        process.wait(timeout=20)


def timed_command(command: Sequence[str], env: dict[str, str]) -> float:
    """Seconds from start to exit; a failing command is an error, not a fast figure."""
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def python_env() -> dict[str, str]:
    """The environment, with byte-code written and read as it is for a user's install."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env
