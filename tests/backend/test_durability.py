"""A purchase answered 201 has charged a card: on SQLite its commit must survive a power cut.

In WAL mode SQLite's documentation promises that only with ``synchronous=FULL``: "A transaction
committed in WAL mode with synchronous=NORMAL might roll back following a power loss or system
crash", while FULL adds "an additional sync operation of the WAL file ... after each
transaction commit" (https://www.sqlite.org/pragma.html#pragma_synchronous). The pragma is per
connection, so every connection of both engines is checked, fresh ones included.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from credits_tui.backend.db.engine import Database

FULL = 2  # PRAGMA synchronous reads back 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def pragma(connection: Any, name: str) -> object:
    cursor = connection.cursor()
    try:
        return cursor.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        cursor.close()


def test_every_sqlite_connection_commits_durably(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'durable.db'}")
    try:
        for engine in (database.read_engine, database.write_engine):
            with ExitStack() as stack:
                # Several at once, so each is a fresh connection rather than one from the pool
                # again; raw, so that no write transaction is begun by the pragmas.
                connections = [engine.raw_connection() for _ in range(4)]
                for connection in connections:
                    stack.callback(connection.close)
                    assert pragma(connection, "synchronous") == FULL
                    assert pragma(connection, "journal_mode") == "wal"
        # And through the units of work the services use.
        with database.write() as session:
            assert session.connection().exec_driver_sql("PRAGMA synchronous").scalar() == FULL
        with database.read() as session:
            assert session.connection().exec_driver_sql("PRAGMA synchronous").scalar() == FULL
    finally:
        database.dispose()
