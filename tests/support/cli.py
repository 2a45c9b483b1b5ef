"""A person's machine running the ``credits-tui`` command, and the fixtures the CLI test modules share.

Commands run in this process through click's runner (a subprocess costs a Python start-up and
the imports, about half a second of CPU each); ``process_cli`` and ``make_cli(in_process=False)``
run them as a separate process, for the tests about what only a real process shows.

Each of those modules imports the fixtures: they replace the package's function-scoped ``server``
and ``raw`` with ones on a module-scoped backend.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import keyring
import keyring.core
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from credits_tui.auth.tokens import SERVICE, entry_name
from tests.support import RawApi
from tests.support.backend import ADMIN, PASSWORD
from tests.support.file_keyring import FILE_ENV, FileKeyring, read_entries

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def secret_service():
    """The real Secret Service keyring if this process can use it, else None."""
    backend = keyring.get_keyring()
    if type(backend).__module__ != "keyring.backends.SecretService":
        return None
    probe = f"probe-{os.getpid()}"
    try:
        backend.set_password(SERVICE + "-test", probe, "x")
        usable = backend.get_password(SERVICE + "-test", probe) == "x"
        backend.delete_password(SERVICE + "-test", probe)
    except keyring.errors.KeyringError:
        return None
    return backend if usable else None


class KeyringView:
    """Reads (and cleans up) what the subprocess put in its keyring."""

    def __init__(self, backend, file: Path | None) -> None:
        self.backend = backend
        self.file = file
        self.touched: set[tuple[str, str]] = set()

    def get(self, server: str, email: str) -> str | None:
        self.touched.add((server, email))
        if self.file is not None:
            return read_entries(self.file).get(SERVICE, {}).get(entry_name(server, email))
        return self.backend.get_password(SERVICE, entry_name(server, email))

    def set(self, server: str, email: str, token: str) -> None:
        self.touched.add((server, email))
        if self.file is not None:
            entries = read_entries(self.file)
            entries.setdefault(SERVICE, {})[entry_name(server, email)] = token
            self.file.write_text(json.dumps(entries))
        else:
            self.backend.set_password(SERVICE, entry_name(server, email), token)

    def cleanup(self) -> None:
        if self.file is not None:
            return
        for server, email in self.touched:
            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                self.backend.delete_password(SERVICE, entry_name(server, email))


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float

    def one_line_error(self) -> str:
        """The error a person reads: exactly one line on stderr, from us."""
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("credits-tui: ") and len(lines[0]) > len("credits-tui: ") + 5
        return lines[0]


@dataclass
class Cli:
    server: str
    env: dict[str, str]
    dirs: list[Path]
    keyring: KeyringView
    secrets: list[str] = field(default_factory=list)
    in_process: bool = True  # click's runner here, or ``python -m credits_tui.cli`` in a process of its own

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> Result:
        started = time.monotonic()
        if self.in_process:
            result = self._run_in_process(list(args), input, self.env | (env or {}))
        else:
            process = subprocess.run(
                [sys.executable, "-m", "credits_tui.cli", *args], input=input, capture_output=True, text=True,
                env=self.env | (env or {}), timeout=timeout, cwd=self.dirs[0],
                stdin=subprocess.DEVNULL if input is None else None)  # never a terminal
            result = Result(process.returncode, process.stdout, process.stderr, time.monotonic() - started)
        assert "Traceback" not in result.stderr, result.stderr
        for secret in [*self.secrets, (env or {}).get("CREDITS_TUI_TOKEN")]:
            if secret:  # a token is never printed, not even in an error
                assert secret not in result.stderr and secret not in result.stdout
        return result

    def _run_in_process(self, args: list[str], input: str | None, env: dict[str, str]) -> Result:
        """The same command through click's runner in this process: the machine's environment
        (home, config, data, variables) for the run, its keyring as the process's, stdin never a
        terminal. What a separate process adds (the entry point, start-up, the keyring chosen by
        the environment) is the subprocess runs' to show."""
        from click.testing import CliRunner

        from credits_tui.cli import main

        started = time.monotonic()
        unset: dict[str, str | None] = {k: None for k in os.environ if k not in env}
        before = keyring.get_keyring()
        keyring.set_keyring(self._keyring_backend(env))
        try:
            outcome = CliRunner().invoke(main, args, input=input if input is not None else "",
                                         env={**unset, **env}, prog_name="credits-tui", catch_exceptions=True)
        finally:
            keyring.set_keyring(before)
        if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
            raise outcome.exception  # a traceback a person would have seen
        return Result(outcome.exit_code, outcome.stdout, outcome.stderr, time.monotonic() - started)

    def _keyring_backend(self, env: dict[str, str]) -> KeyringBackend:
        if name := env.get("PYTHON_KEYRING_BACKEND"):
            return keyring.core.load_keyring(name)
        return self.keyring.backend if self.keyring.file is None else FileKeyring()

    def login(self, email: str = ADMIN) -> str:
        result = self.run("login", "--server", self.server, "--email", email, "--password-stdin",
                          input=PASSWORD + "\n")
        assert result.code == 0, result.stderr
        token = self.keyring.get(self.server, email)
        assert token
        self.secrets.append(token)
        return token

    def files(self) -> list[Path]:
        return [Path(root) / name for d in self.dirs for root, _, names in os.walk(d) for name in names]


def make_cli(server: str, base: Path, secret_service, *, in_process: bool = True) -> Cli:
    """A person's machine: own home, config and data directories, and a keyring; its commands run
    in this process (``in_process``) or, as a person runs them, in a process of their own."""
    home, config, data = base / "home", base / "config", base / "data"
    for directory in (home, config, data):
        directory.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CREDITS_TUI_") and k not in ("PYTHON_KEYRING_BACKEND", FILE_ENV)}
    env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(config), "XDG_DATA_HOME": str(data),
            "XDG_CACHE_HOME": str(home / ".cache"), "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    if secret_service is None:
        keyring_dir = base / "keyring"  # not under home, config or data
        keyring_dir.mkdir()
        keyring_file = keyring_dir / "keyring.json"
        env |= {"PYTHON_KEYRING_BACKEND": "tests.support.file_keyring.FileKeyring", FILE_ENV: str(keyring_file),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        view = KeyringView(None, keyring_file)
    else:
        view = KeyringView(secret_service, None)
    return Cli(server=server, env=env, dirs=[home, config, data], keyring=view, in_process=in_process)


@pytest.fixture(scope="module")
def api_url(module_live_server) -> str:
    """One seeded backend for this module: every test checks before and after itself."""
    return module_live_server


@pytest.fixture
def server(api_url) -> str:
    return api_url.removesuffix("/api/v1")


@pytest.fixture
def raw(api_url) -> RawApi:
    return RawApi(api_url)


@pytest.fixture
def cli(server, tmp_path, secret_service):
    """A fresh machine, not signed in. A real keyring is shared by every machine of the test
    run, so fresh machines sign in as the support user and leave the admin's entry to
    ``signed_in``."""
    machine = make_cli(server, tmp_path, secret_service)
    yield machine
    machine.keyring.cleanup()


@pytest.fixture
def process_cli(server, tmp_path, secret_service):
    """Like ``cli``, but every command runs as a person runs it: ``python -m credits_tui.cli`` in a
    process of its own, its keyring the one the environment gives."""
    machine = make_cli(server, tmp_path, secret_service, in_process=False)
    yield machine
    machine.keyring.cleanup()


@pytest.fixture(scope="module")
def signed_in(api_url, tmp_path_factory, secret_service):
    """A machine signed in as the demo admin, shared by the tests that do not sign out."""
    machine = make_cli(api_url.removesuffix("/api/v1"), tmp_path_factory.mktemp("signed_in"), secret_service)
    machine.login(ADMIN)
    yield machine
    machine.keyring.cleanup()


@pytest.fixture
def admin_token(signed_in) -> str:
    return signed_in.keyring.get(signed_in.server, ADMIN)
