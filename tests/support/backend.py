"""Helpers for tests that run the reference backend: the demo users, the ledger invariant, and
database files made once per session and copied for each test."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Literal

from alembic import command
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.migrate import alembic_config, upgrade
from credits_tui.backend.db.schema import Account, Base
from credits_tui.backend.demo import DEMO_PASSWORD, seed_demo
from credits_tui.backend.services.ledger import ledger_sum

POSTGRES_URL = os.environ.get("CREDITS_TEST_POSTGRES_URL")  # CI's PostgreSQL server, when it gives one

ADMIN = "admin@demo.example"
SUPPORT = "support@demo.example"
MEMBER = "member@demo.example"
OTHER_ADMIN = "other-admin@demo.example"
PASSWORD = DEMO_PASSWORD
DEMO_TRANSACTIONS = 200  # Demo Co.'s history in a seeded test database

Content = Literal["migrated", "seeded"]


def cheap_password_hash(password: str = DEMO_PASSWORD) -> str:
    """An Argon2id hash at the lowest cost: verifying it takes microseconds instead of ~100 ms,
    so tests can sign in as often as they like. (The real cost is the backend's own
    ``hash_password``; test_auth checks the stored hashes are Argon2id.)"""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(password)


def assert_ledger_invariant(database: Database) -> None:
    """Each account's balance equals the sum of its transactions."""
    with database.read() as session:
        for account in session.scalars(select(Account)).all():
            assert account.balance_cents == ledger_sum(session, account.id), account.name


def seed(database: Database, password_hash: str) -> None:
    """Demo Co. (admin, support, member, service users; the 4242 card; its history) and Other Co."""
    seed_demo(database, Settings(database_url=database.url), transactions=DEMO_TRANSACTIONS,
              password_hash=password_hash)


def fill(database: Database, content: Content, password_hash: str) -> None:
    """Migrate an empty ``database``, or seed a copy of the migrated one; then let go of it."""
    try:
        if content == "migrated":
            upgrade(database)
        else:
            seed(database, password_hash)
    finally:
        database.dispose()


class SqliteTemplates:
    """SQLite files made once per session, each made when first asked for, and copied for
    every test that needs one: migrating costs a few hundred milliseconds and seeding more,
    copying a file a millisecond."""

    def __init__(self, folder: Path, password_hash: str) -> None:
        self.folder = folder
        self.password_hash = password_hash
        self._made: dict[Content, Path] = {}

    def copy_to(self, path: Path, content: Content) -> None:
        if content not in self._made:
            self._made[content] = self._make(content)
        shutil.copyfile(self._made[content], path)
        into_wal_mode(path)

    def _make(self, content: Content) -> Path:
        path = self.folder / f"{content}.db"
        if content == "seeded":
            self.copy_to(path, "migrated")
        fill(Database(f"sqlite:///{path}"), content, self.password_hash)
        out_of_wal_mode(path)
        return path


def out_of_wal_mode(path: Path) -> None:
    """Everything in the one file, so that copying the file copies the whole database (each
    copy goes back to WAL with ``into_wal_mode``)."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")


def into_wal_mode(path: Path) -> None:
    """Back to WAL (it stays so in the file) before any test opens the copy. The backend's
    connections ask for WAL too, but the switch needs the file to itself: two connections
    opened at once, one of them reading, made it fail now and then with "database is locked"."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


class PostgresTemplates:
    """PostgreSQL databases made once per session (migrated; migrated and seeded). A test that
    wants the demo accounts gets a fresh copy of the seeded one (``CREATE DATABASE ... TEMPLATE``,
    a file copy on the server, where seeding again runs the demo history, its month close and
    ``ANALYZE``, and takes seconds on a busy machine); a test that wants an empty database gets
    the session's scratch database emptied (``TRUNCATE`` is quicker than a copy of nothing)."""

    def __init__(self, server_url: str, prefix: str, password_hash: str) -> None:
        self.server = make_url(server_url)
        self.prefix = prefix
        self.password_hash = password_hash
        self.admin: Engine = create_engine(self.server, isolation_level="AUTOCOMMIT")
        self._made: set[Content | Literal["scratch"]] = set()
        self._copies = 0

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def _execute(self, statement: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(statement))

    def _create(self, name: str, template: str | None = None) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))

    def template(self, content: Content) -> str:
        """The template's name, made when first asked for (no connection stays open to it)."""
        name = f"{self.prefix}_{content}"
        if content not in self._made:
            if content == "migrated":
                self._create(name)
            else:
                self._create(name, self.template("migrated"))
            fill(Database(self.url(name)), content, self.password_hash)
            self._made.add(content)
        return name

    def copy(self, content: Content) -> str:
        """A new database holding what the template holds; its URL."""
        self._copies += 1
        name = f"{self.prefix}_t{self._copies}"
        self._create(name, self.template(content))
        return self.url(name)

    def emptied(self) -> str:
        """The session's scratch database, migrated and with every table emptied; its URL."""
        name = f"{self.prefix}_scratch"
        if "scratch" not in self._made:
            self._create(name, self.template("migrated"))
            self._made.add("scratch")
        database = Database(self.url(name))
        try:
            tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
            with database.write_engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        finally:
            database.dispose()
        return self.url(name)

    def drop(self, url: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    def close(self) -> None:
        for content in self._made:
            self._execute(f'DROP DATABASE IF EXISTS "{self.prefix}_{content}" WITH (FORCE)')
        self.admin.dispose()


def migrate_down(database: Database, revision: str) -> None:
    """Take the schema back to ``revision``."""
    config = alembic_config()
    with database.write_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def migrate_down_and_up(database: Database, revision: str) -> None:
    """Take the schema back to ``revision``, then forward again as a server's start does."""
    migrate_down(database, revision)
    upgrade(database)
