"""Loading many rows into one table in the caller's transaction (the demo's history).

Rows go to the driver itself, as tuples of the values the database stores: SQLAlchemy's
per-row parameter processing would cost more than the database's own work. A large load also
of the ledger sets its secondary indexes aside and builds each once at the end
(``ledger_indexes_rebuilt``), which is much cheaper than keeping them up to date row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table

from credits_tui.backend.db import search_index
from credits_tui.backend.db.schema import LedgerTransaction, table_of

# SQLite's page cache (KiB) while the ledger is loaded and indexed; the default is 2 MB. With the
# fresh rows in memory, building the indexes and summing them take a fifth less CPU.
_SQLITE_BULK_CACHE_KIB = 256 * 1024


def insert_rows(connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                progress: Callable[[int], None] | None = None, every: int = 20_000) -> None:
    """Insert ``rows`` (values in ``columns`` order) into ``table``: ``executemany`` in batches on
    SQLite, one ``COPY`` on PostgreSQL (streamed, so the server works while the rows are made).
    ``progress`` is told the number of rows sent after each ``every`` rows and at the end."""
    driver = connection.connection.driver_connection
    assert driver is not None  # the connection is checked out, in the caller's transaction
    names = ", ".join(columns)
    if connection.dialect.name == "sqlite":
        statement = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))})"
        cursor = driver.cursor()
        try:
            source = iter(rows)
            while batch := list(islice(source, every)):
                cursor.executemany(statement, batch)
                if progress:
                    progress(len(batch))
        finally:
            cursor.close()
        return
    with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        sent = 0
        for sent, row in enumerate(rows, 1):
            copy.write_row(row)
            if progress and sent % every == 0:
                progress(every)
        if progress and sent % every:
            progress(sent % every)


@contextmanager
def ledger_indexes_rebuilt(connection: Connection) -> Iterator[None]:
    """Load the ledger with its secondary indexes, its free-text index and (PostgreSQL) its
    foreign keys set aside, each built once when the block ends, in the same transaction.

    On SQLite the connection has a bigger page cache meanwhile.
    """
    table = table_of(LedgerTransaction)
    indexes = list(table.indexes)
    for index in indexes:
        index.drop(connection)
    search_index.suspend(connection)
    if connection.dialect.name == "sqlite":
        with _sqlite_page_cache(connection, _SQLITE_BULK_CACHE_KIB):
            yield
            for index in indexes:
                index.create(connection)
            search_index.rebuild(connection)
        return
    foreign_keys = connection.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        f"WHERE conrelid = '{table.name}'::regclass AND contype = 'f' ORDER BY conname").all()
    for name, _definition in foreign_keys:
        connection.exec_driver_sql(f'ALTER TABLE {table.name} DROP CONSTRAINT "{name}"')
    yield
    for index in indexes:
        index.create(connection)
    search_index.rebuild(connection)
    # One check of every row against the referenced tables instead of one lookup per row.
    for name, definition in foreign_keys:
        connection.exec_driver_sql(f'ALTER TABLE {table.name} ADD CONSTRAINT "{name}" {definition}')


@contextmanager
def _sqlite_page_cache(connection: Connection, kib: int) -> Iterator[None]:
    """A page cache of ``kib`` KiB on this pooled connection, put back as it was."""
    saved = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
    connection.exec_driver_sql(f"PRAGMA cache_size=-{kib}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={saved}")
