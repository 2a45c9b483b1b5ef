"""Servers in processes of their own, and requests sent all at once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from credits_tui.backend.db.engine import Database
from credits_tui.embedded import free_port
from tests.support import loopback_http


def all_at_once(count: int, send) -> list[httpx.Response]:
    """Run ``send(i)`` in ``count`` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(i: int) -> httpx.Response:
        with loopback_http(timeout=30) as client:
            barrier.wait(timeout=30)
            return send(client, i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@contextmanager
def served(database: Database, log: Path, workers: int) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    command = [sys.executable, "-m", "credits_tui.cli", "serve", "--port", str(port), "--database-url",
               database.url, "--workers", str(workers), "--log-level", "warning"]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until_serving(process, base, log)
        yield base, process
    finally:
        with_kill(process)


def wait_until_serving(process: subprocess.Popen, base: str, log: Path, timeout: float = 30) -> None:
    """Wait until the server started as ``process`` answers on ``base``; fail with its log if it exits."""
    deadline = time.monotonic() + timeout
    with loopback_http(timeout=1) as http:
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                http.get(f"{base}/openapi.json")
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)


def with_kill(process: subprocess.Popen) -> None:
    """kill -9 the server and its workers (its process group), and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
