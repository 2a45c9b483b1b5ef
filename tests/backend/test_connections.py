"""Every pooled connection is set up for the searches it will serve, fresh ones included.

SQLite maps the file for reads (a free-text summary visits rows scattered over the whole
ledger); PostgreSQL plans each execution of a prepared search for its own parameters (a generic
plan made for a common word walks the ledger for a rare one). See db/engine.py.
"""

from __future__ import annotations

from contextlib import ExitStack

from credits_tui.backend.db.engine import Database


def _set_up(database: Database, setting: object) -> bool:
    if database.is_sqlite:
        return int(str(setting)) > 0  # mapped (SQLite may cap the size it was asked for)
    return setting == "force_custom_plan"


def _setting_statement(database: Database) -> str:
    return "PRAGMA mmap_size" if database.is_sqlite else "SHOW plan_cache_mode"


def test_every_connection_reads_the_way_searches_need(database: Database):
    with ExitStack() as stack:
        # Several at once, so that each is a new connection rather than the pool's first again.
        for _ in range(3):
            connection = database.read_engine.raw_connection()
            stack.callback(connection.close)
            cursor = connection.cursor()
            cursor.execute(_setting_statement(database))
            assert _set_up(database, cursor.fetchone()[0])
            cursor.close()
    with database.read() as session:  # and through the unit of work the searches use
        assert _set_up(database, session.connection().exec_driver_sql(_setting_statement(database)).scalar())
