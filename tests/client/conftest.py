"""Fixtures for the client, token and CLI tests: the real backend on loopback, seeded.

The backend's behaviour on both databases is covered by tests/backend; these tests are about
the client side, so they pin the backend to a per-test SQLite file (overriding
``database_url`` also takes them out of the SQLite/PostgreSQL parametrization).
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.migrate import upgrade
from credits_tui.backend.demo import DEMO_PASSWORD, seed_demo
from tests.backend.conftest import assert_ledger_invariant, live_server, seeded, settings  # noqa: F401
from tests.support import RawApi, serve_asgi

ADMIN = "admin@demo.example"
SUPPORT = "support@demo.example"
MEMBER = "member@demo.example"
OTHER_ADMIN = "other-admin@demo.example"
PASSWORD = DEMO_PASSWORD


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'credits.db'}"


@pytest.fixture(scope="session")
def demo_password_hash() -> str:
    """Sign-in cost is not under test here: the cheapest Argon2id hash of the demo password."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(DEMO_PASSWORD)


@pytest.fixture
def server(live_server: str) -> str:  # noqa: F811
    """The server address a person types: no ``/api/v1``."""
    assert live_server.endswith("/api/v1")
    return live_server.removesuffix("/api/v1")


@pytest.fixture
def raw(live_server: str) -> RawApi:  # noqa: F811
    return RawApi(live_server)


@pytest.fixture(scope="module")
def module_live_server(tmp_path_factory, demo_password_hash):
    """Like ``live_server``, but one seeded backend for a whole test module: for tests that each
    compare the state before and after themselves (the CLI tests, which pay for subprocesses).
    The ledger invariant is checked when the module is done."""
    url = f"sqlite:///{tmp_path_factory.mktemp('module_server') / 'credits.db'}"
    database = Database(url)
    upgrade(database)
    backend_settings = Settings(database_url=url)
    seed_demo(database, backend_settings, transactions=200, password_hash=demo_password_hash)
    with serve_asgi(create_app(backend_settings, database=database)) as base:
        yield base + "/api/v1"
    assert_ledger_invariant(database)
    database.dispose()
