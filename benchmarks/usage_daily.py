"""Latency of GET /credits/usage/daily over HTTP on a large account (DESIGN.md §9).

Seeds Demo Co. with N transactions (once; the database file is kept for reruns, and is its
own file: a newer schema than transactions_latency.py's), serves it with ``credits-tui
serve`` on a loopback port, and prints p50/p95 per query shape, and the server's CPU time
per request (read from /proc on Linux): on a shared, busy machine the wall-clock figures
include waiting for a core, the CPU time does not. The target is well under 50 ms; the
free-text shapes sum the matching rows and are shown for what they cost.

    python benchmarks/usage_daily.py                       # 1,000,000 rows, SQLite
    python benchmarks/usage_daily.py --transactions 100000 --runs 30
    python benchmarks/usage_daily.py --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from credits_tui.backend.demo import DEMO_ADMIN

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transactions_latency import iso, measure, seed

from benchmarks.suite import served as serve_demo

TARGET_MS = 50.0


def shapes() -> dict[str, dict]:
    now = datetime.now(timezone.utc)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    thirteen_months = iso(now - timedelta(days=396))
    return {
        "30 days (partial first and last day)": {"since": iso(now - timedelta(days=30))},
        "30 whole days (midnight to midnight)": {"since": iso(today - timedelta(days=30)), "until": iso(today)},
        "13 months": {"since": thirteen_months},
        "all time": {},
        "13 months, process=postcard": {"since": thirteen_months, "process_type": "postcard"},
        "13 months, process=postcard,smart_match": {"since": thirteen_months,
                                                    "process_type": ["postcard", "smart_match"]},
        "30 days, user=support": {"since": iso(now - timedelta(days=30)), "user": "support@demo.example"},
        "13 months, user=admin, process=postcard": {"since": thirteen_months, "user": DEMO_ADMIN,
                                                     "process_type": "postcard"},
        "30 days, type=usage,refund": {"since": iso(now - timedelta(days=30)),
                                       "transaction_type": ["usage", "refund"]},
        "q=campaign 7, 30 days (sums matching rows)": {"since": iso(now - timedelta(days=30)), "q": "campaign 7"},
        "q=postcard, 30 days (sums matching rows)": {"since": iso(now - timedelta(days=30)), "q": "postcard"},
    }


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process so far (Linux), or None where /proc is absent."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def served(url: str) -> Iterator[tuple[httpx.Client, int]]:
    """``credits-tui serve`` (the suite's), a client signed in as the demo admin, and its pid."""
    with serve_demo(url) as server, server.client() as client:
        yield client, server.pid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", help="default: a SQLite file under the temp dir, kept for reruns")
    args = parser.parse_args()
    url = args.database_url or (
        f"sqlite:///{Path(tempfile.gettempdir()) / f'credits-bench-usage-{args.transactions}.db'}")
    seed(url, args.transactions)
    path = "/credits/usage/daily"
    with served(url) as (client, pid):
        print(f"\n{args.transactions:,} transactions, {args.runs} runs each, GET {path} over HTTP on loopback"
              f"\n(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; 'entries' = days x process types)")
        print(f"{'shape':46} {'entries':>7} {'p50 ms':>8} {'p95 ms':>8} {'server CPU ms':>14}")
        worst = worst_cpu = 0.0
        for name, params in shapes().items():
            entries = len(client.get(path, params=params).raise_for_status().json()["days"])
            before = cpu_seconds(pid)
            timings = sorted(measure(client, path, params, args.runs))
            after = cpu_seconds(pid)
            # measure() also makes 3 warm-up requests
            cpu = (after - before) * 1000 / (args.runs + 3) if before is not None and after is not None else None
            p50 = statistics.median(timings)
            p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
            if not name.startswith("q="):
                worst, worst_cpu = max(worst, p95), max(worst_cpu, cpu or 0.0)
            print(f"{name:46} {entries:7} {p50:8.1f} {p95:8.1f} {'' if cpu is None else f'{cpu:14.1f}'}")
        verdict = "within" if worst < TARGET_MS else "OVER"
        print(f"{'worst without free text':46} {'':7} {'':8} {worst:8.1f} {worst_cpu:14.1f}"
              f"  (p95 {verdict} the {TARGET_MS:.0f} ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
