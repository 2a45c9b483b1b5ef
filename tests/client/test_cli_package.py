"""The command line as installed without the ``server`` extra, and what a quick command loads.

Each test runs ``credits-tui`` in a subprocess whose imports of the server stack fail, as they
do after ``pip install credits-tui`` alone (a ``sitecustomize`` on ``PYTHONPATH`` installs a
finder that refuses them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support import RawApi
from tests.support.backend import ADMIN

REPO = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("fastapi", "sqlalchemy", "uvicorn", "argon2", "alembic", "psycopg", "pydantic_settings", "starlette")
INSTALL_HINT = "needs the server parts: pip install 'credits-tui[server]'"

BLOCKER = f'''
import sys

class _NotInstalled:
    """The server extra is not installed: its packages cannot be imported."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {SERVER_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
'''


@pytest.fixture
def without_server(tmp_path) -> dict[str, str]:
    """The environment of a machine with the base install only (and nobody signed in)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDITS_TUI_", "CREDITS_DATABASE"))}
    return env | {"PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), "HOME": str(home),
                  "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local")}


def run(env: dict[str, str], *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "credits_tui", *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_the_blocker_blocks(without_server):
    result = subprocess.run([sys.executable, "-c", "import sqlalchemy"], env=without_server, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and "No module named 'sqlalchemy'" in result.stderr


def test_balance_works_without_the_server_parts(without_server, live_server):
    token = RawApi(live_server).token(ADMIN)
    env = without_server | {"CREDITS_TUI_SERVER": live_server.removesuffix("/api/v1"), "CREDITS_TUI_TOKEN": token}
    assert run(env, "balance", "--help").returncode == 0
    shown = run(env, "balance")
    assert shown.returncode == 0, shown.stderr
    assert "Demo Co.:" in shown.stdout and "Purchase Credits" in shown.stdout
    as_json = run(env, "balance", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["account"]["name"] == "Demo Co."
    listed = run(env, "transactions", "--format", "json", "--limit", "3")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 3


@pytest.mark.parametrize("args", [["serve"], ["serve", "--demo"], ["close-month"], ["reconcile"], ["demo"],
                                  ["demo", "--web"]])
def test_operator_commands_without_the_server_parts_say_what_to_install(without_server, args):
    result = run(without_server, *args)
    assert result.returncode == 2
    assert result.stderr.strip() == f"credits-tui: 'credits-tui {args[0]}' {INSTALL_HINT}"


def test_balance_json_loads_no_event_loop_rich_textual_retry_library_or_keyring(without_server, live_server):
    """A script's token comes from the environment: the keyring is not even imported (cron has none)."""
    token = RawApi(live_server).token(ADMIN)
    env = without_server | {"CREDITS_TUI_SERVER": live_server.removesuffix("/api/v1"), "CREDITS_TUI_TOKEN": token}
    code = ("import atexit, sys\n"
            "heavy = ('asyncio', 'rich', 'pygments', 'textual', 'stamina', 'credits_tui.backend', 'keyring')\n"
            "atexit.register(lambda: print('loaded:', [m for m in heavy if sys.modules.get(m)], file=sys.stderr))\n"
            "from credits_tui.cli import main\n"
            "main(['balance', '--json'])\n")
    result = run(env, code=code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["account"]["name"] == "Demo Co."
    assert result.stderr.strip() == "loaded: []"


def test_a_table_still_prints_with_rich(without_server, live_server):
    token = RawApi(live_server).token(ADMIN)
    env = without_server | {"CREDITS_TUI_SERVER": live_server.removesuffix("/api/v1"), "CREDITS_TUI_TOKEN": token,
                            "COLUMNS": "200"}
    result = run(env, "transactions", "--limit", "2")
    assert result.returncode == 0, result.stderr
    assert "Time (UTC)" in result.stdout and "Balance" in result.stdout


@pytest.mark.parametrize(("typed", "bought"), [("1,000.50", "1,000.50"), ("25.", "25.00")])
def test_buy_takes_amounts_as_the_app_does(without_server, live_server, typed, bought):
    raw = RawApi(live_server)
    token = raw.token(ADMIN)
    before = raw.balance(token)
    env = without_server | {"CREDITS_TUI_SERVER": live_server.removesuffix("/api/v1"), "CREDITS_TUI_TOKEN": token}
    result = run(env, "buy", typed, "--yes")
    assert result.returncode == 0, result.stderr
    assert f"Bought {bought} credits" in result.stdout
    assert raw.balance(token) == before + Decimal(bought.replace(",", ""))


def test_buy_refuses_a_comma_that_is_not_a_thousands_separator(without_server, live_server):
    token = RawApi(live_server).token(ADMIN)
    env = without_server | {"CREDITS_TUI_SERVER": live_server.removesuffix("/api/v1"), "CREDITS_TUI_TOKEN": token}
    result = run(env, "buy", "1,0", "--yes")
    assert result.returncode == 2
    assert "commas only between groups of three digits" in result.stderr
