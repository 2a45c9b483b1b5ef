"""Fixtures shared by every test: databases (SQLite always, PostgreSQL when its URL is set), the
demo accounts in them, and the backend served on loopback.

A test's SQLite database is a copy of a file migrated (and seeded) once per session; on
PostgreSQL the run's database is migrated once and emptied before each test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.migrate import upgrade
from credits_tui.backend.db.schema import Base
from tests.support import serve_asgi
from tests.support.backend import (
    POSTGRES_URL,
    SqliteTemplates,
    assert_ledger_invariant,
    cheap_password_hash,
    seed,
    sqlite_path,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take ``database_url`` run on SQLite, and on PostgreSQL when CI provides it."""
    if "database_kind" in metafunc.fixturenames:
        kinds = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
        metafunc.parametrize("database_kind", kinds, scope="session")


@pytest.fixture(scope="session")
def demo_password_hash() -> str:
    """The demo users' password hash in every test database (see ``cheap_password_hash``)."""
    return cheap_password_hash()


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory, demo_password_hash: str) -> SqliteTemplates:
    return SqliteTemplates(tmp_path_factory.mktemp("templates"), demo_password_hash)


@pytest.fixture(scope="session")
def _postgres_migrated() -> Iterator[str]:
    """A database of this test run's own on the server CI gives (runs may overlap)."""
    assert POSTGRES_URL
    server = make_url(POSTGRES_URL)
    name = f"{server.database}_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    upgrade(database)
    database.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(database_kind: str, tmp_path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Where the test's database is: a SQLite file not made yet, or PostgreSQL, migrated and empty."""
    if database_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'credits.db'}"
        return
    url = request.getfixturevalue("_postgres_migrated")
    database = Database(url)
    try:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with database.write_engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        database.dispose()
    yield url


@pytest.fixture
def database(database_url: str, request: pytest.FixtureRequest, demo_password_hash: str) -> Iterator[Database]:
    """The test's own migrated database: empty, or holding the demo accounts when the test (or
    a fixture it uses) asks for ``seeded`` too. Seeding is decided here so that the two are
    always one database."""
    wants_demo = "seeded" in request.fixturenames
    if database_url.startswith("sqlite:"):
        templates: SqliteTemplates = request.getfixturevalue("sqlite_templates")
        templates.copy_to(sqlite_path(database_url), "seeded" if wants_demo else "migrated")
        database = Database(database_url)
    else:
        database = Database(database_url)
        if wants_demo:
            seed(database, demo_password_hash)
    yield database
    database.dispose()


@pytest.fixture
def seeded(database: Database) -> Database:
    """Demo Co. (admin, support, member, service users; 4242 card; 200 rows) and Other Co."""
    return database


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def live_server(seeded: Database, settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on a loopback port: real HTTP, real concurrency. Yields the API's
    base URL (``.../api/v1``)."""
    with serve_asgi(create_app(settings, database=seeded, migrate=False)) as base:
        yield f"{base}/api/v1"
    assert_ledger_invariant(seeded)
