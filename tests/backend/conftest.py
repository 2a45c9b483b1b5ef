"""Backend fixtures: the app on a real database, demo-like accounts, signed-in clients.

Every test that uses ``api`` ends by checking the ledger invariant: each account's balance
equals the sum of its transactions.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import Account
from credits_tui.backend.demo import DEMO_PASSWORD, seed_demo
from credits_tui.backend.services.auth import hash_password
from credits_tui.backend.services.ledger import ledger_sum


@pytest.fixture(scope="session")
def demo_password_hash() -> str:
    return hash_password(DEMO_PASSWORD)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def seeded(database: Database, settings: Settings, demo_password_hash: str) -> Database:
    """Demo Co. (admin, support, member, service users; 4242 card; 200 rows) and Other Co."""
    seed_demo(database, settings, transactions=200, password_hash=demo_password_hash)
    return database


@dataclass
class Api:
    """A test client bound to the app, with sign-in helpers."""

    client: TestClient
    database: Database

    def token(self, email: str, password: str = DEMO_PASSWORD) -> str:
        response = self.client.post("/api/v1/auth/tokens", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        return response.json()["token"]

    def as_user(self, email: str) -> httpx.Client:
        """A client signed in as ``email`` (shares the app; its own headers)."""
        token = self.token(email)
        return _Signed(self.client, token)


class _Signed:
    def __init__(self, client: TestClient, token: str) -> None:
        self._client = client
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self._client.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs):
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)


def assert_ledger_invariant(database: Database) -> None:
    with database.read() as session:
        for account in session.scalars(select(Account)).all():
            assert account.balance_cents == ledger_sum(session, account.id), account.name


@pytest.fixture
def api(seeded: Database, settings: Settings) -> Iterator[Api]:
    app = create_app(settings, database=seeded)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, database=seeded)
    assert_ledger_invariant(seeded)


@pytest.fixture
def admin(api: Api) -> _Signed:
    return api.as_user("admin@demo.example")


@pytest.fixture
def support(api: Api) -> _Signed:
    return api.as_user("support@demo.example")


@pytest.fixture
def member(api: Api) -> _Signed:
    return api.as_user("member@demo.example")


@pytest.fixture
def other_admin(api: Api) -> _Signed:
    return api.as_user("other-admin@demo.example")


@pytest.fixture
def service(api: Api) -> _Signed:
    return api.as_user("usage-bot@demo.example")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(seeded: Database, settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on a loopback port: real HTTP, real concurrency."""
    app = create_app(settings, database=seeded)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/api/v1"
    server.should_exit = True
    thread.join(timeout=10)
    assert_ledger_invariant(seeded)
