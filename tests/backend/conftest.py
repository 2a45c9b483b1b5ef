"""Backend fixtures: the app on a real database, demo-like accounts, signed-in clients.

Every test that uses ``api`` ends by checking the ledger invariant: each account's balance
equals the sum of its transactions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.demo import DEMO_PASSWORD
from tests.support.backend import (
    POSTGRES_URL,
    PostgresTemplates,
    SqliteTemplates,
    assert_ledger_invariant,
    sqlite_path,
)


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


@pytest.fixture
def api(backend_app: FastAPI, seeded: Database) -> Iterator[Api]:
    with TestClient(backend_app, raise_server_exceptions=False) as client:
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


# --- one seeded app per test module ---------------------------------------------------------


@dataclass
class ModuleApi(Api):
    """An ``Api`` shared by the tests of one module, with signed-in clients kept for reuse."""

    signed_in: dict = field(default_factory=dict)

    def signed(self, email: str) -> _Signed:
        """A client signed in as ``email``, signed in once per module (do not revoke its token)."""
        if email not in self.signed_in:
            self.signed_in[email] = self.as_user(email)
        return self.signed_in[email]


class _ModuleApis:
    """The seeded apps of the session, one per test module and database kind, made when first
    asked for and closed at the end of the session.

    Session-wide rather than module-scoped because pytest interleaves the items of modules
    (it groups them by the session-scoped ``database_kind``), which would tear a module-scoped
    app down and seed it again many times. Each app has a database of its own, copied from the
    session's seeded template (a file on SQLite, a template database on PostgreSQL).
    """

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.request = request
        self.apis: dict[tuple[str, str], ModuleApi] = {}
        self.stack = contextlib.ExitStack()

    def get(self, module: str, kind: str) -> ModuleApi:
        if (module, kind) not in self.apis:
            self.apis[module, kind] = self._create(kind)
        return self.apis[module, kind]

    def _create(self, kind: str) -> ModuleApi:
        if kind == "sqlite":
            url = f"sqlite:///{self.tmp_path_factory.mktemp('module_api') / 'credits.db'}"
            templates: SqliteTemplates = self.request.getfixturevalue("sqlite_templates")
            templates.copy_to(sqlite_path(url), "seeded")
        else:
            pg_templates: PostgresTemplates = self.request.getfixturevalue("_postgres_templates")
            url = pg_templates.copy("seeded")
            self.stack.callback(pg_templates.drop, url)
        database = Database(url)
        self.stack.callback(database.dispose)
        self.stack.callback(assert_ledger_invariant, database)  # runs before dispose
        client = self.stack.enter_context(TestClient(
            create_app(Settings(database_url=url), database=database, migrate=False), raise_server_exceptions=False))
        return ModuleApi(client=client, database=database)


@pytest.fixture(scope="session")
def _module_apis(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ModuleApis]:
    if POSTGRES_URL:
        # Set up first, so the templates outlive the apps copied from them.
        request.getfixturevalue("_postgres_templates")
    apis = _ModuleApis(tmp_path_factory, request)
    with apis.stack:
        yield apis


@pytest.fixture
def module_api(_module_apis: _ModuleApis, database_kind: str, request: pytest.FixtureRequest) -> ModuleApi:
    """Like ``api``, but seeded once per test module (and database kind): for tests that read,
    or that compare the state before and after themselves. Much cheaper than ``api`` for long
    parametrized tables. The ledger invariant is checked at the end of the session.
    """
    return _module_apis.get(request.module.__name__, database_kind)
