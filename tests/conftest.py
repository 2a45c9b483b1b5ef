"""Fixtures shared by every test: databases (SQLite always, PostgreSQL when its URL is set)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.migrate import upgrade
from credits_tui.backend.db.schema import Base

POSTGRES_URL = os.environ.get("CREDITS_TEST_POSTGRES_URL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take ``database_url`` run on SQLite, and on PostgreSQL when CI provides it."""
    if "database_kind" in metafunc.fixturenames:
        kinds = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
        metafunc.parametrize("database_kind", kinds, scope="session")


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
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()
