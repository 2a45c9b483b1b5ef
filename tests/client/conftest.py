"""Fixtures for the client, token and CLI tests: the real backend on loopback, seeded.

The backend's behaviour on both databases is covered by tests/backend; these tests are about
the client side, so they pin the backend to a per-test SQLite file (overriding
``database_url`` also takes them out of the SQLite/PostgreSQL parametrization).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from tests.support import RawApi, serve_asgi
from tests.support.backend import (
    SqliteTemplates,
    assert_ledger_invariant,
    sqlite_path,
)


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'credits.db'}"


@pytest.fixture
def server(live_server: str) -> str:
    """The server address a person types: no ``/api/v1``."""
    assert live_server.endswith("/api/v1")
    return live_server.removesuffix("/api/v1")


@pytest.fixture
def raw(live_server: str) -> RawApi:
    return RawApi(live_server)


@pytest.fixture(scope="module")
def module_live_server(tmp_path_factory: pytest.TempPathFactory, sqlite_templates: SqliteTemplates) -> Iterator[str]:
    """Like ``live_server``, but one seeded backend for a whole test module: for tests that each
    compare the state before and after themselves (the CLI tests, which pay for subprocesses).
    The ledger invariant is checked when the module is done."""
    url = f"sqlite:///{tmp_path_factory.mktemp('module_server') / 'credits.db'}"
    sqlite_templates.copy_to(sqlite_path(url), "seeded")
    database = Database(url)
    with serve_asgi(create_app(Settings(database_url=url), database=database, migrate=False)) as base:
        yield base + "/api/v1"
    assert_ledger_invariant(database)
    database.dispose()
