"""Every benchmark, on SQLite and (given a URL) PostgreSQL, as one table.

    python -m benchmarks                                   # 1,000,000 rows, SQLite
    python -m benchmarks --postgres-url postgresql+psycopg://...   # and PostgreSQL
    python -m benchmarks --quick                           # 2,000 rows, one run (CI)

For each database the runner seeds Demo Co. with N transactions into a fresh database (a
file in a temp dir; a schema of its own on PostgreSQL, dropped afterwards) and times it,
then calls ``benchmark(context)`` of each module in ``benchmarks/`` that defines one (see
``benchmarks/suite.py`` for the interface), in MODULES order and then by name. It prints
one table: measure, figure, floor, ratio (figure ÷ floor), target, met. PostgreSQL's URL
comes from ``--postgres-url`` or CREDITS_BENCH_POSTGRES_URL (``.ci/start-postgres.sh``
starts one). The exit status is 0 even when targets are missed: the table is the result.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

import benchmarks
from benchmarks.suite import Context, Row
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.migrate import upgrade
from credits_tui.backend.demo import seed_demo

MODULES = ["transactions_latency", "usage_daily", "purchases", "startup", "keystroke", "sections", "memory"]
SEED_TARGET_S_PER_MILLION = {"sqlite": 60.0, "postgresql": 90.0}
Benchmark = Callable[[Context], list[Row]]


def discover() -> list[tuple[str, Benchmark]]:
    names = [info.name for info in pkgutil.iter_modules(benchmarks.__path__)
             if info.name not in ("__main__", "suite")]
    ordered = [name for name in MODULES if name in names] + sorted(set(names) - set(MODULES))
    found = []
    for name in ordered:
        module = importlib.import_module(f"benchmarks.{name}")
        if callable(getattr(module, "benchmark", None)):
            found.append((name, module.benchmark))
        else:
            print(f"benchmarks/{name}.py has no benchmark(context): not in the table", file=sys.stderr)
    return found


@contextmanager
def fresh_database(kind: str, postgres_url: str | None, workdir: Path) -> Iterator[str]:
    """An empty database's URL: a SQLite file, or a private schema on PostgreSQL."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    assert postgres_url
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def seed(kind: str, url: str, transactions: int) -> Row:
    database = Database(url)
    try:
        upgrade(database)
        started = time.perf_counter()
        seed_demo(database, Settings(database_url=url), transactions=transactions)
        elapsed = time.perf_counter() - started
    finally:
        database.dispose()
    per_million = elapsed * 1_000_000 / transactions
    return Row(f"seed_demo, s per 1,000,000 (seeded {transactions:,})", per_million, "s",
               SEED_TARGET_S_PER_MILLION[kind], note=f"{elapsed:.1f} s for {transactions:,}")


def run(kind: str, postgres_url: str | None, args: argparse.Namespace,
        modules: list[tuple[str, Benchmark]]) -> list[tuple[str, Row]]:
    rows: list[tuple[str, Row]] = []
    workdir = Path(tempfile.mkdtemp(prefix=f"credits-bench-{kind}-"))
    try:
        with fresh_database(kind, postgres_url, workdir) as url:
            print(f"{kind}: seeding {args.transactions:,} transactions…", file=sys.stderr, flush=True)
            rows.append((kind, seed(kind, url, args.transactions)))
            with contextlib.ExitStack() as stack:
                context = Context(kind, url, args.transactions, args.runs, args.quick, workdir, stack)
                for name, benchmark in modules:
                    print(f"{kind}: {name}…", file=sys.stderr, flush=True)
                    try:
                        rows += [(kind, row) for row in benchmark(context)]
                    except Exception as error:
                        traceback.print_exc()
                        rows.append((kind, Row(f"{name}: failed", None, "", 0,
                                               note=f"{type(error).__name__}: {error}")))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return f"{text} {unit}".rstrip()


def table(rows: list[tuple[str, Row]]) -> str:
    header = ["database", "measure", "figure", "floor", "ratio", "target", "met", "floor is / note"]
    lines = []
    for kind, row in rows:
        bound = "≤" if row.lower_is_better else "≥"
        target = f"{bound} {row.target:g}×" if row.target_is_ratio else f"{bound} {_number(row.target, row.unit)}"
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        floor = _number(row.floor, row.unit) if row.floor is not None else "—"
        remark = "; ".join(part for part in (row.floor_name, row.note) if part)
        lines.append([kind, row.measure, _number(row.figure, row.unit), floor, ratio, target,
                      "yes" if row.met else "NO", remark])
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header) - 1)]

    def render(cells: list[str]) -> str:
        padded = (cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=True))
        return "  ".join([*padded, cells[-1]]).rstrip()

    return "\n".join([render(header), render(["-" * width for width in widths] + ["-" * 15]),
                      *(render(line) for line in lines)])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and one run per measure: that every measure still runs (CI)")
    parser.add_argument("--transactions", type=int, help="rows to seed (default 1,000,000; 2,000 with --quick)")
    parser.add_argument("--runs", type=int, help="timed runs per measure (default 50; 1 with --quick)")
    parser.add_argument("--postgres-url", default=os.environ.get("CREDITS_BENCH_POSTGRES_URL"),
                        help="also run on this PostgreSQL database (default: $CREDITS_BENCH_POSTGRES_URL)")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--only", metavar="NAME[,NAME...]",
                        help="just these modules (e.g. startup,keystroke); the seeding row is always measured")
    args = parser.parse_args()
    args.transactions = args.transactions or (2_000 if args.quick else 1_000_000)
    args.runs = args.runs or (1 if args.quick else 50)
    kinds = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres_url else [])
    if not kinds:
        parser.error("--no-sqlite needs --postgres-url")
    modules = discover()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {name for name, _ in modules}
        if unknown:
            parser.error(f"no benchmark module named {', '.join(sorted(unknown))}")
        modules = [(name, benchmark) for name, benchmark in modules if name in wanted]
    rows = [row for kind in kinds for row in run(kind, args.postgres_url, args, modules)]
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
