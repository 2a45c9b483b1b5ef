"""Latency of GET /credits/usage/daily over HTTP on a large account (DESIGN.md §9).

Serves Demo Co. seeded with N transactions with ``credits-tui serve`` on a loopback port and
takes, per query shape, p50/p95 and the server's CPU time per request (read from /proc on
Linux): on a shared, busy machine the wall-clock figures include waiting for a core, the CPU
time does not. The floor, measured in the same run, is ``GET /me`` (any authenticated
request's cost). The target is well under 50 ms; the free-text shapes sum the matching rows
and are shown for what they cost.

In ``python -m benchmarks`` each shape is a row (p95 against the target, beside GET /me's),
and one more row holds the worst server CPU per request of the shapes without free text.
Alone, it seeds its own database file once (kept for reruns) and prints the same figures:

    python benchmarks/usage_daily.py                       # 1,000,000 rows, SQLite
    python benchmarks/usage_daily.py --transactions 100000 --runs 30
    python benchmarks/usage_daily.py --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

if not __package__:  # run as a script: the repository root holds the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.suite import WARM_UPS, Context, Row, Server, p50_p95, served
from benchmarks.transactions_latency import iso, measure, seed
from credits_tui.backend.demo import DEMO_ADMIN

TARGET_MS = 50.0
PATH = "/credits/usage/daily"


def shapes() -> dict[str, dict[str, Any]]:
    now = datetime.now(timezone.utc)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    thirteen_months = iso(now - timedelta(days=396))
    return {
        "30 days (partial first and last day)": {"since": iso(now - timedelta(days=30)),
                                                 "until": iso(now - timedelta(hours=1))},
        "30 whole days (midnight to midnight)": {"since": iso(today - timedelta(days=30)), "until": iso(today)},
        "13 months": {"since": thirteen_months},
        "all time": {},
        "13 months, process=postcard": {"since": thirteen_months, "process_type": "postcard"},
        "13 months, process=postcard,smart_match": {"since": thirteen_months,
                                                    "process_type": ["postcard", "smart_match"]},
        "30 days, user=support": {"since": iso(now - timedelta(days=30)), "user": "support@demo.example"},
        "13 months, user=admin, process=postcard": {"since": thirteen_months, "user": DEMO_ADMIN,
                                                     "process_type": "postcard"},
        "13 months, user=admin": {"since": thirteen_months, "user": DEMO_ADMIN},
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


@dataclass(frozen=True)
class Figures:
    p50: float
    p95: float
    cpu_ms: float | None  # the server's CPU time per request, warm-up included
    entries: int  # days x process types in the answer (0 for GET /me)


def take(client: httpx.Client, server: Server, path: str, params: dict[str, Any], runs: int,
         warm_ups: int) -> Figures:
    entries = len(client.get(path, params=params).raise_for_status().json().get("days", []))
    before = cpu_seconds(server.pid)
    timings = measure(client, path, params, runs, warm_ups)
    after = cpu_seconds(server.pid)
    requests = runs + warm_ups
    cpu = (after - before) * 1000 / requests if before is not None and after is not None else None
    p50, p95 = p50_p95(timings)
    return Figures(p50, p95, cpu, entries)


def _cpu(figures: Figures) -> str:
    return "—" if figures.cpu_ms is None else f"{figures.cpu_ms:.1f}"


def run(server: Server, runs: int, warm_ups: int) -> tuple[Figures, dict[str, Figures]]:
    """GET /me (the floor) and every shape, against one server, in one run."""
    with server.client() as client:
        floor = take(client, server, "/me", {}, runs, warm_ups)
        return floor, {name: take(client, server, PATH, params, runs, warm_ups) for name, params in shapes().items()}


def benchmark(context: Context) -> list[Row]:
    floor, figures = run(context.server, context.runs, context.warm_ups)
    rows = [Row(f"usage/daily p95 · {name}", f.p95, "ms", TARGET_MS, floor=floor.p95, floor_name="GET /me p95",
                note=f"p50 {f.p50:.1f} ms; server CPU {_cpu(f)} ms/request (GET /me {_cpu(floor)}); "
                     f"{f.entries} entries")
            for name, f in figures.items()]
    chart = [f.cpu_ms for name, f in figures.items() if not name.startswith("q=") and f.cpu_ms is not None]
    note = "no /proc: CPU time not measurable here" if not chart else (
        "" if context.is_sqlite else "the serving process only; PostgreSQL's own time is not in it")
    rows.append(Row("usage/daily server CPU ms/request · worst shape without free text",
                    max(chart) if chart else None, "ms", TARGET_MS, floor=floor.cpu_ms,
                    floor_name="GET /me server CPU ms/request",
                    note=note))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", help="default: a SQLite file under the temp dir, kept for reruns")
    args = parser.parse_args()
    url = args.database_url or (
        f"sqlite:///{Path(tempfile.gettempdir()) / f'credits-bench-usage-{args.transactions}.db'}")
    seed(url, args.transactions)
    with served(url) as server:
        floor, figures = run(server, args.runs, WARM_UPS)
    print(f"\n{args.transactions:,} transactions, {args.runs} runs each, GET {PATH} over HTTP on loopback"
          f"\n(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; 'entries' = days x process types)")
    print(f"{'shape':46} {'entries':>7} {'p50 ms':>8} {'p95 ms':>8} {'server CPU ms':>14}")
    for name, f in {"GET /me (floor)": floor, **figures}.items():
        print(f"{name:46} {f.entries:7} {f.p50:8.1f} {f.p95:8.1f} {_cpu(f):>14}")
    chart = {name: f for name, f in figures.items() if not name.startswith("q=")}
    worst = max(f.p95 for f in chart.values())
    worst_cpu = max((f.cpu_ms or 0.0) for f in chart.values())
    verdict = "within" if worst < TARGET_MS else "OVER"
    print(f"{'worst without free text':46} {'':7} {'':8} {worst:8.1f} {worst_cpu:14.1f}"
          f"  (p95 {verdict} the {TARGET_MS:.0f} ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
