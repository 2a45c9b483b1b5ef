"""Engines and units of work for SQLite (a file, WAL) and PostgreSQL.

Reads and writes are told apart because SQLite serialises writers: a write unit of work on
SQLite starts with ``BEGIN IMMEDIATE`` and so holds the database's write lock from its first
statement, which makes read-modify-write of a balance safe across threads and processes.
On PostgreSQL a write unit of work locks the account row (``SELECT ... FOR UPDATE``, see
``lock_account``) and other accounts proceed in parallel.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from typing import Any

from sqlalchemy import Engine, Insert, Table, create_engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from credits_tui.backend.db.schema import Account

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Reads map the file rather than copy its pages through each connection's small page cache
# (2 MB): a free-text summary that visits 14,500 rows scattered over a million-row ledger took
# 28 ms with reads and 14 ms mapped. The mapping is the operating system's page cache, shared by
# every connection and worker, so it costs no memory of its own. SQLite caps it at this size.
SQLITE_MMAP_BYTES = 0x7FFF0000


def _sqlite_engine(url: str, *, begin: str, synchronous: str = "FULL") -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the sqlite3 module, decide how to BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        # A purchase answered 201 has charged a card, so its commit must survive a power cut.
        # SQLite's documentation: "A transaction committed in WAL mode with synchronous=NORMAL
        # might roll back following a power loss or system crash", while with FULL "an
        # additional sync operation of the WAL file happens after each transaction commit"
        # which "helps ensure that transactions are durable across a power loss":
        # https://www.sqlite.org/pragma.html#pragma_synchronous
        # It costs one fsync of the WAL per commit (about 5 ms on this project's test machine,
        # most of a purchase's time); ``Database.write(durable=False)`` is the way around it
        # for a commit whose loss is harmless.
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


# A connection back in the pool for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pre-ping, but only for connections that sat idle: a ping is a round trip, and a busy
    request checks out several connections in turn (a purchase four).

    Without a ping, a database restart turns the next request on each pooled connection into
    a 500. A restart takes longer than a second, so every connection that lived through one
    has been idle that long and is pinged, and a broken one is replaced (DisconnectionError
    makes the pool connect again). Should one be missed all the same, its error makes
    SQLAlchemy invalidate the whole pool: one 500, not one per connection.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_S:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError("the pooled connection failed its ping") from error


class _SqliteWriter:
    """This server's turn at SQLite's write lock: its threads take turns at a lock, and its
    worker processes at an ``flock`` on a file beside the database (``<database>.write-lock``).

    SQLite's own lock makes a waiting writer retry BEGIN IMMEDIATE after sleeps of up to 100 ms
    (its busy handler), so the writer that sleeps when the lock comes free loses the time a
    dozen short purchases would take. A waiter here is woken the moment the turn is free: with
    4 workers, purchases went from 110-114 to 121-130 a second (and 96 in one of four runs).
    SQLite's lock still decides who writes; this only orders the queue (a process that does not
    take part, such as the sqlite3 shell, still meets the busy handler, and a process forked
    from one that holds the file shares its turn).
    """

    def __init__(self, database_path: str | None) -> None:
        self._lock = threading.Lock()
        self._turn: int | None = None
        if database_path and database_path != ":memory:" and not database_path.startswith("file:"):
            # In a folder we may not create files in, the processes meet in the busy handler.
            with suppress(OSError):
                self._turn = os.open(f"{database_path}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> None:
        # Bounded like SQLite's own wait, so that a write nested in a write fails as it always
        # did (database is locked) instead of hanging.
        if not self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise TimeoutError("this process waited too long for its turn to write to SQLite")
        if self._turn is not None:
            # Not bounded: the holder is another process inside one write unit of work, whose
            # statements SQLite's busy timeout bounds, and a process that dies lets go of it.
            fcntl.flock(self._turn, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        if self._turn is not None:
            fcntl.flock(self._turn, fcntl.LOCK_UN)
        self._lock.release()

    def close(self) -> None:
        if self._turn is not None:
            os.close(self._turn)
            self._turn = None


def _plan_for_each_execution(engine: Engine) -> None:
    """Plan every execution of a prepared statement for its own parameters.

    psycopg prepares a statement once it has run five times, and five executions later
    PostgreSQL may settle on one generic plan for any parameters. For a search the best plan
    depends on them: a common word is found by walking the newest rows, a rare one through its
    index. After five searches for "postcard", the generic plan took a search that matches
    nothing from 0.9 to 24 ms, and one for a rare word from 12 to 36 ms. Planning costs
    about a millisecond for a search, and far less for the other statements.
    """

    @event.listens_for(engine, "connect")
    def _custom_plans(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_connection.commit()


class Database:
    """One database, by URL: ``sqlite:///path`` or ``postgresql+psycopg://...``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        if self.dialect == "sqlite":
            self.read_engine = _sqlite_engine(url, begin="BEGIN")
            self.write_engine = _sqlite_engine(url, begin="BEGIN IMMEDIATE")
            self.lease_engine = _sqlite_engine(url, begin="BEGIN IMMEDIATE", synchronous="NORMAL")
        else:
            # Recycling keeps idle connections from going stale behind firewalls and poolers.
            self.read_engine = create_engine(url, pool_size=10, max_overflow=10, pool_recycle=1800)
            _ping_when_idle(self.read_engine)
            _plan_for_each_execution(self.read_engine)
            self.write_engine = self.lease_engine = self.read_engine
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        self._lease = sessionmaker(self.lease_engine, expire_on_commit=False)
        # SQLite has one writer at a time: the threads and processes of a server take turns
        # here, woken as soon as the lock is free (see _SqliteWriter).
        self._writer = _SqliteWriter(make_url(url).database) if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work; closing it ends the transaction and keeps loaded rows usable."""
        with self._read() as session:
            yield session

    @contextmanager
    def lookup(self) -> Iterator[Session]:
        """A read of one statement. One statement sees a consistent snapshot by itself, so
        PostgreSQL runs it in autocommit: no BEGIN and ROLLBACK round trips around it."""
        with self.read() as session:
            if not self.is_sqlite:
                session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Session]:
        """A unit of work that commits when the block ends and rolls back on any error.

        ``durable=False`` (SQLite only; PostgreSQL commits as configured) skips the fsync of
        the commit. Such a commit can be lost in a power cut, but only together with every
        commit after it: the WAL is one file written in order, and the next durable commit's
        fsync covers it, so no durable commit ever survives without it. Use it for a step
        whose loss is the same as a crash just before it, such as an idempotency claim that a
        retry takes again.
        """
        with self._writer or nullcontext(), (self._write if durable else self._lease)() as session, session.begin():
            yield session

    def dispose(self) -> None:
        for engine in {self.read_engine, self.write_engine, self.lease_engine}:
            engine.dispose()
        if self._writer is not None:
            self._writer.close()


def lock_account(session: Session, account_id: int) -> Account:
    """The account row, locked until the unit of work ends (no lost update of its balance)."""
    account = session.execute(
        select(Account).where(Account.id == account_id).with_for_update()
    ).scalar_one()
    return account


def insert_unless_taken(dialect: str, table: Table, *unique: str) -> Insert:
    """``INSERT ... ON CONFLICT (unique) DO NOTHING``: one statement that inserts or finds the
    row taken. On PostgreSQL it waits for a concurrent insert of the same key to commit or roll
    back, so afterwards the row is either this statement's (RETURNING gives it) or committed."""
    insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
    return insert.on_conflict_do_nothing(index_elements=list(unique))
