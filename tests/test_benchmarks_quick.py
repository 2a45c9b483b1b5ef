"""``python -m benchmarks --quick`` runs end to end and prints its one table.

Behaviour, not speed: every measure must be present with a figure (a benchmark that broke
or could not take its measure shows "—" or "failed"), whatever the machine's load.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.purchases import QUICK_WORKERS, rate_measure

ROOT = Path(__file__).resolve().parents[1]
MEASURES = [
    "seed_demo, s per 1,000,000",
    "search p95 · page: all time",
    "search p95 · page: type=refund,adjustment",
    "search p95 · page: q=postcard (common)",
    "search p95 · summary: all time",
    "search p95 · summary: q=goodwill",
    "usage/daily p95 · 13 months",
    "usage/daily server CPU ms/request · worst shape without free text",
    rate_measure(QUICK_WORKERS),  # the label says how many workers --quick serves with
    "server CPU ms per purchase",
    "balance --json",
    "TUI start → balance shown (s, median)",
    "TUI start → balance shown ÷ import textual.app",
    "keystroke → table shows its page (ms, p50)",
    "keystroke → table shows its page (ms, p95)",
    "Manage Credits first shown → page and totals",
    "Manage Credits shown again → page and totals",
    "RSS after paging",
]


@pytest.mark.slow
def test_quick_benchmarks_print_every_measure_with_a_figure() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CREDITS_BENCH_POSTGRES_URL", None)  # SQLite only: CI's quick check
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--quick"], check=False, cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0]
    assert header.split()[:3] == ["database", "measure", "figure"]
    at = header.index("figure")  # columns are padded: every figure starts under its heading
    assert "failed" not in result.stdout, result.stderr
    for measure in MEASURES:
        row = next((line for line in lines if measure in line), None)
        assert row is not None, f"{measure!r} missing from:\n{result.stdout}"
        figure = row[at:].split()[0]
        assert figure != "—", f"no figure for {measure!r}: {row}"
    for family in ("search p95 ·", "usage/daily p95 ·"):  # every query shape of the two, whatever their number
        shapes = [line for line in lines if family in line]
        assert len(shapes) > 1, result.stdout
        for row in shapes:
            assert row[at:].split()[0] != "—", f"no figure: {row}"
