"""Fixtures shared by every test: databases (SQLite always, PostgreSQL when its URL is set), the
demo accounts in them, and the backend served on loopback.

A test's database is a copy of one migrated (and seeded) once per session: a file on SQLite,
a database made from a template on PostgreSQL.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from credits_tui.backend.api.app import bind, create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from tests.support import serve_asgi
from tests.support.backend import (
    POSTGRES_URL,
    PostgresTemplates,
    SqliteTemplates,
    assert_ledger_invariant,
    cheap_password_hash,
    sqlite_path,
)

# Byte-code is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE): the tests
# start servers and CLIs that import the package again and again, and each worker would
# compile it and rewrite every test module's asserts afresh (7.8 s → 1.8 s to collect).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Python's full garbage collections were a fifth of an app test's CPU: each walks every
    object alive, most of them the modules imported by then, and the apps and requests of the
    tests make one every few seconds. What is alive once the tests are collected stays for the
    whole run, so it is frozen out of the walks; the young generations are collected less often
    (the apps' cycles are still freed, a little later)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first (a server killed and restarted, a browser, the quick benchmarks):
    started last, one of them would keep a worker busy after the others have finished."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take ``database_url`` run on SQLite, and on PostgreSQL when CI provides it
    (unless marked ``sqlite_only``: about a behaviour of SQLite's)."""
    if "database_kind" in metafunc.fixturenames:
        sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        kinds = ["sqlite"] + (["postgresql"] if POSTGRES_URL and not sqlite_only else [])
        metafunc.parametrize("database_kind", kinds, scope="session")


@pytest.fixture(scope="session")
def demo_password_hash() -> str:
    """The demo users' password hash in every test database (see ``cheap_password_hash``)."""
    return cheap_password_hash()


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory, demo_password_hash: str) -> SqliteTemplates:
    return SqliteTemplates(tmp_path_factory.mktemp("templates"), demo_password_hash)


@pytest.fixture(scope="session")
def _postgres_templates(demo_password_hash: str) -> Iterator[PostgresTemplates]:
    """The templates and test databases of this test run's own on the server CI gives (runs, and
    xdist workers, may overlap: the names carry the process id)."""
    assert POSTGRES_URL
    templates = PostgresTemplates(POSTGRES_URL, f"{make_url(POSTGRES_URL).database}_{os.getpid()}",
                                  demo_password_hash)
    yield templates
    templates.close()


@pytest.fixture
def database_url(database_kind: str, tmp_path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Where the test's database is: a SQLite file not made yet, or a migrated PostgreSQL
    database, empty, or a copy of the seeded one of the test's own when the test (or a fixture
    it uses) asks for ``seeded``."""
    if database_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'credits.db'}"
        return
    templates: PostgresTemplates = request.getfixturevalue("_postgres_templates")
    if "seeded" not in request.fixturenames:
        yield templates.emptied()
        return
    url = templates.copy("seeded")
    yield url
    templates.drop(url)


@pytest.fixture
def database(database_url: str, request: pytest.FixtureRequest) -> Iterator[Database]:
    """The test's own migrated database: empty, or holding the demo accounts when the test (or
    a fixture it uses) asks for ``seeded`` too. Seeding is decided with the URL, so that the two
    are always one database."""
    if database_url.startswith("sqlite:"):
        templates: SqliteTemplates = request.getfixturevalue("sqlite_templates")
        templates.copy_to(sqlite_path(database_url), "seeded" if "seeded" in request.fixturenames else "migrated")
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def seeded(database: Database) -> Database:
    """Demo Co. (admin, support, member, service users; 4242 card; 200 rows) and Other Co."""
    return database


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


class _OneApp:
    """The backend app of this test process, bound to each test's own database in turn.

    A new FastAPI app builds every route (its dependencies and pydantic validators) on its first
    requests, about a sixth of a second of CPU. The app keeps nothing between requests that is
    not in ``app.state`` (``bind``), so binding it again gives a test what a new app would.
    """

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    def bound(self, settings: Settings, database: Database) -> FastAPI:
        if self.app is None:
            self.app = create_app(settings, database=database, migrate=False)
        else:
            bind(self.app, settings, database)
        return self.app


@pytest.fixture(scope="session")
def _one_app() -> _OneApp:
    return _OneApp()


@pytest.fixture
def backend_app(_one_app: _OneApp, seeded: Database, settings: Settings) -> FastAPI:
    """The reference backend on the test's own seeded database (and the test's ``settings``)."""
    return _one_app.bound(settings, seeded)


@pytest.fixture
def live_server(backend_app: FastAPI, seeded: Database) -> Iterator[str]:
    """The app served by uvicorn on a loopback port: real HTTP, real concurrency. Yields the API's
    base URL (``.../api/v1``)."""
    with serve_asgi(backend_app) as base:
        yield f"{base}/api/v1"
    assert_ledger_invariant(seeded)
