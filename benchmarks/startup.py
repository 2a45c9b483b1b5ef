"""Start-up: ``credits-tui balance --json`` and the TUI until the balance is on screen.

Both are whole processes as a user starts them, timed against a floor started the same way
and measured in the same run, alternating (paired) so that the machine's load hits both
alike; the figure is the median. Byte-code is written and reused as in a user's install
(PYTHONDONTWRITEBYTECODE unset, one warm-up run first; none with ``--quick``, whose one run
only shows that the measure still works).

- CLI: ``credits-tui balance --json`` against a served backend (CREDITS_TUI_SERVER and
  CREDITS_TUI_TOKEN), floor ``python -c "import httpx, keyring; from pydantic import BaseModel"``.
  ``import pydantic`` alone loads almost nothing of pydantic (its names are imported on first
  use), so it is no floor for a command whose answer is a model: BaseModel is what any use of
  pydantic loads. The row's note gives the ratio to plain ``import pydantic`` too.
- TUI: ``credits-tui`` in a pseudo-terminal, timed from spawn until its output shows the
  account's card expiry ("Expires MM/YYYY"), which the Status screen (the first section)
  writes in the same update as the balance (the balance itself is drawn in block digits). The floor
  is ``python -c "import textual.app"``.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import statistics
import sys
import time

from benchmarks.suite import Context, Row, python_env, timed_command

CLI_TARGET_RATIO = 1.2
CLI_FLOOR = "import httpx, keyring; from pydantic import BaseModel"
LAZY_FLOOR = "import httpx, pydantic, keyring"
TUI_TARGET_S = 0.8
TUI_TARGET_RATIO = 2.5
TUI_TIMEOUT_S = 30.0
_ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
_BALANCE_SHOWN = re.compile(rb"Expires \d\d/\d{4}")


def _alternating(commands: list[list[str]], env: dict[str, str], runs: int, warm_ups: int) -> list[float]:
    """Each command's median time, the commands run in turn (so the machine's load hits all alike)."""
    for _ in range(warm_ups):
        for command in commands:
            timed_command(command, env)
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for command, taken in zip(commands, times, strict=True):
            taken.append(timed_command(command, env))
    return [statistics.median(taken) for taken in times]


def _tui_until_balance(env: dict[str, str]) -> float | None:
    """Seconds from spawning ``credits-tui`` in a pty until the balance's update is drawn."""
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of a usual size
        os.execvpe(sys.executable, [sys.executable, "-m", "credits_tui.cli"],
                   {**env, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"})
    seen = b""
    try:
        while time.perf_counter() - started < TUI_TIMEOUT_S:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child has gone
                return None
            if not chunk:
                return None
            seen += chunk
            if _BALANCE_SHOWN.search(_ANSI.sub(b"", seen)):
                return time.perf_counter() - started
        return None
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def benchmark(context: Context) -> list[Row]:
    runs, warm_ups = (1, 0) if context.quick else (15, 1)
    python = sys.executable
    server = context.server
    env = {**python_env(), "CREDITS_TUI_SERVER": server.origin, "CREDITS_TUI_TOKEN": server.token}
    cli, cli_floor, lazy_floor = _alternating(
        [[python, "-m", "credits_tui.cli", "balance", "--json"], [python, "-c", CLI_FLOOR], [python, "-c", LAZY_FLOOR]],
        env, runs, warm_ups)
    import_textual = [python, "-c", "import textual.app"]
    for _ in range(warm_ups):
        timed_command(import_textual, env)
        _tui_until_balance(env)
    tui: list[float] = []
    floor: list[float] = []
    for _ in range(runs):
        shown = _tui_until_balance(env)
        if shown is not None:
            tui.append(shown)
        floor.append(timed_command(import_textual, env))
    tui_figure = statistics.median(tui) if tui else None
    textual_floor = statistics.median(floor)
    missed = runs - len(tui)
    tui_note = f"balance not seen within {TUI_TIMEOUT_S:.0f} s in {missed} of {runs} runs" if missed else ""
    return [
        Row("balance --json (s, median)", cli, "s", CLI_TARGET_RATIO, floor=cli_floor,
            floor_name="import httpx+keyring, pydantic's BaseModel", target_is_ratio=True,
            note=f"{cli / lazy_floor:.2f}× plain import httpx+pydantic+keyring ({lazy_floor:.2f} s)"),
        Row("TUI start → balance shown (s, median)", tui_figure, "s", TUI_TARGET_S, floor=textual_floor,
            floor_name="import textual.app", note=tui_note),
        Row("TUI start → balance shown ÷ import textual.app", tui_figure, "s", TUI_TARGET_RATIO,
            floor=textual_floor, floor_name="import textual.app", target_is_ratio=True, note=tui_note),
    ]
