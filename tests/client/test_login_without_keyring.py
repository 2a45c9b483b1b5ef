"""``credits-tui login`` on a machine with no usable OS keyring (an admin over SSH).

Without a keyring the token cannot be kept: login says so, revokes it and exits 1, and tells
how to go on, ``export CREDITS_TUI_TOKEN=$(credits-tui login --print-token ...)``, which
prints the token instead of keeping it and exits 0. No message contradicts the exit code.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
from sqlalchemy import select

from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import ApiToken, User
from tests.support import RawApi
from tests.support.backend import PASSWORD, SUPPORT
from tests.support.cli import Cli, make_cli

NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


@pytest.fixture
def server(live_server: str) -> str:
    return live_server.removesuffix("/api/v1")


@pytest.fixture
def machine(server: str, tmp_path) -> Cli:
    """A machine whose keyring is a test file; runs given NO_KEYRING have none at all (a real
    process: its keyring is the one its environment names)."""
    return make_cli(server, tmp_path, None, in_process=False)


def live_tokens(database: Database, email: str) -> tuple[int, int]:
    """(tokens ever issued to ``email``, tokens of theirs not revoked)."""
    with database.read() as session:
        rows = session.scalars(select(ApiToken).join(User).where(User.email == email)).all()
    return len(rows), sum(row.revoked_at is None for row in rows)


def test_login_without_a_keyring_keeps_no_token_and_says_how_to_go_on(machine, seeded, server):
    result = machine.run("login", "--server", server, "--email", SUPPORT, "--password-stdin",
                         input=PASSWORD + "\n", env=NO_KEYRING)
    assert result.code == 1
    message = result.one_line_error()
    assert "Signed in" not in message, "exit 1 is not a sign-in"
    assert "not kept" in message and "revoked" in message
    assert "export CREDITS_TUI_TOKEN=$(" in message
    assert live_tokens(seeded, SUPPORT) == (1, 0), "the token that could not be kept is revoked"
    assert not (machine.dirs[1] / "credits-tui" / "config.toml").exists()

    # The advice works as given (with the password piped instead of typed).
    advice = re.search(r"\$\((.*)\)$", message)
    assert advice, message
    command = shlex.split(advice.group(1))
    assert command[:2] == ["credits-tui", "login"] and "--print-token" in command
    printed = machine.run(*command[1:], "--password-stdin", input=PASSWORD + "\n", env=NO_KEYRING)
    assert printed.code == 0, printed.stderr
    token = printed.stdout.strip()
    assert printed.stdout == token + "\n"
    assert RawApi(server + "/api/v1").get("/me", token).json()["email"] == SUPPORT


def test_print_token_prints_a_working_token_and_keeps_it_nowhere(machine, seeded, server):
    shell = (f"export CREDITS_TUI_TOKEN=$({shlex.quote(sys.executable)} -m credits_tui.cli login --print-token "
             f"--server {shlex.quote(server)} --email {SUPPORT} --password-stdin <<< {PASSWORD}) && "
             f"{shlex.quote(sys.executable)} -m credits_tui.cli balance --json")
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=machine.env, check=False,
                            cwd=machine.dirs[0], timeout=60)
    assert result.returncode == 0, result.stderr
    assert '"purchase_credits"' in result.stdout, "balance ran with the printed token"
    assert "Signed in" in result.stderr and "kept nowhere" in result.stderr
    assert "Traceback" not in result.stderr
    assert live_tokens(seeded, SUPPORT) == (1, 1)
    # With a keyring at hand, --print-token still leaves it alone.
    assert machine.keyring.get(server, SUPPORT) is None
