"""App fixtures: the real backend in-process (httpx's ASGI transport, a real SQLite file).

``make_app(email)`` gives a ``CreditsApp`` already signed in as ``email`` (the token comes
from the real ``POST /auth/tokens``); ``make_app(None)`` starts at the sign-in screen.
Tokens go to an in-memory keyring, config to a temporary directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from credits_tui.app import Connection, CreditsApp
from credits_tui.auth.tokens import TokenStore
from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.migrate import upgrade
from credits_tui.backend.demo import DEMO_PASSWORD, seed_demo
from tests.support.memory_keyring import MemoryKeyring

SERVER = "http://credits.test"


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch) -> None:
    """Config and data go to a temporary home; animations off for steady tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.delenv("CREDITS_TUI_TOKEN", raising=False)
    monkeypatch.delenv("CREDITS_TUI_SERVER", raising=False)


@pytest.fixture(scope="session")
def cheap_hash() -> str:
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(DEMO_PASSWORD)


@pytest.fixture
def clock() -> Iterator[None]:
    """The real clock; snapshot tests override this to freeze time."""
    yield


@pytest.fixture
def backend(clock, tmp_path, cheap_hash):
    """The reference backend on a seeded SQLite file (Demo Co. with 300 transactions)."""
    url = f"sqlite:///{tmp_path / 'credits.db'}"
    database = Database(url)
    upgrade(database)
    settings = Settings(database_url=url)
    seed_demo(database, settings, transactions=300, password_hash=cheap_hash)
    app = create_app(settings, database=database)
    yield app
    database.dispose()


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def make_app(backend, memory_keyring) -> Iterator[Callable[..., CreditsApp]]:
    def make(email: str | None = "admin@demo.example", *, remember_token: bool = False) -> CreditsApp:
        token = None
        if email is not None:
            with TestClient(backend) as client:
                response = client.post("/api/v1/auth/tokens", json={"email": email, "password": DEMO_PASSWORD})
                assert response.status_code == 201, response.text
                token = response.json()["token"]
        connection = Connection(server=SERVER, email=email, token=token, remember_token=remember_token,
                                transport=httpx.ASGITransport(app=backend))
        return CreditsApp(connection, store=TokenStore(memory_keyring))

    yield make


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let workers run until ``condition`` holds (fails the test after ``timeout`` seconds)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "the app did not get there in time"
        await pilot.pause(0.05)
