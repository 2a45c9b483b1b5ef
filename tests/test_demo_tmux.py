"""The README's first command, driven in a real terminal (tmux) as a person would.

`credits-tui demo` must show the balance, find postcard usage, buy 12.34 credits on the
4242 card, show the new balance, and quit with exit status 0 on ctrl+q.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (CI installs it)"),
              pytest.mark.slow]

BALANCE = re.compile(r"([\d,]+\.\d\d) credits · Demo Co\.")


class Terminal:
    def __init__(self, name: str) -> None:
        self.name = name

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True,
                              check=True).stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)
            time.sleep(0.08)

    def type(self, text: str) -> None:
        self.keys(*text)

    def wait_for(self, predicate, what: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.25)
        raise AssertionError(f"never saw {what}; the screen was:\n{self.screen()}")


def balance_on(screen: str) -> Decimal | None:
    match = BALANCE.search(screen)
    return Decimal(match.group(1).replace(",", "")) if match else None


def test_the_demo_tour_by_keyboard(tmp_path: Path):
    name = f"credits-demo-{os.getpid()}"
    exit_file = tmp_path / "exit"
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "TEXTUAL_ANIMATIONS": "none", "TERM": "xterm-256color"}
    command = f"{sys.executable} -m credits_tui.cli demo; echo EXIT=$? > {exit_file}; sleep 5"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "36", command], env=env, check=True)
    term = Terminal(name)
    try:
        before = balance_on(term.wait_for(lambda s: balance_on(s) is not None, "the balance", timeout=60))

        term.keys("4")  # Manage Credits: find postcard usage
        term.wait_for(lambda s: "Last 30 days" in s, "Manage Credits")
        term.keys("/")
        time.sleep(1.0)  # as a person would: look that the cursor is in the search box
        term.type("postcard")
        # The Type / process column names the process type at any width (the description
        # column may lie off to the right on a narrow terminal).
        found = term.wait_for(lambda s: "Postcard" in s and "Handwritten letter" not in s,
                              "postcard rows only")
        assert "rows 1–" in found

        term.keys("F3")  # Buy Credits: the amount field has the focus
        term.wait_for(lambda s: "4242" in s and "Buy" in s, "Buy Credits")
        time.sleep(1.0)
        term.type("12.34")
        term.keys("Enter")
        term.wait_for(lambda s: "Confirm purchase" in s, "the confirm dialog")
        term.keys("y")
        term.wait_for(lambda s: "Bought 12.34 credits" in s, "the purchase result")

        term.keys("F1")
        term.wait_for(lambda s: balance_on(s) == before + Decimal("12.34"), "the new balance")

        term.keys("C-q")
        deadline = time.monotonic() + 20
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert exit_file.read_text().strip() == "EXIT=0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
