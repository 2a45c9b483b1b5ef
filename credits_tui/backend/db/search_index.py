"""The free-text index over ``transactions.search_text``, which differs by dialect.

SQLite: an external-content FTS5 table filled by an insert trigger (the ledger is
append-only, so inserts are the only change to follow). PostgreSQL: a generated
``search_vector`` column (``to_tsvector('simple', search_text)`` and the words' prefixes, see
below) with a GIN index. The first migration calls ``create``, so a new database gets
today's form at once (0008 brought older ones to it); a bulk load drops the index and builds it
once at the end, which is much faster than row by row.
"""

from __future__ import annotations

from sqlalchemy import Connection

# FTS5 streams a prefix query newest-first only when an index of that prefix length exists;
# otherwise it merges every matching term's rows first (8 ms instead of 0.2 ms for a common
# word in a million rows). Queries therefore use at most SQLITE_PREFIX_MAX characters of a
# word and check longer words against the row (see services/transactions.py).
SQLITE_PREFIX_MAX = 8
_SQLITE_TABLE = (
    "CREATE VIRTUAL TABLE transactions_fts USING fts5("
    "search_text, content='transactions', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', "
    f"prefix='{' '.join(str(n) for n in range(1, SQLITE_PREFIX_MAX + 1))}')"
)
_SQLITE_TRIGGER = (
    "CREATE TRIGGER transactions_fts_insert AFTER INSERT ON transactions BEGIN "
    "INSERT INTO transactions_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
)
# Each word's first one and two characters are lexemes of their own too: ``~r`` and ``~re``
# for "refund". For ``re:*`` GIN reads every lexeme that starts with "re" and merges their
# rows; with each reference number a lexeme, ``1:*`` merged 396,000 rows out of thousands of
# lexemes (49–72 ms on a million rows, most of a "refund 1" keystroke). ``~1`` is one exact
# list, which an AND with another word skips through. FTS5's ``prefix=`` indexes are the
# same idea on SQLite. Words are letter and digit runs (search_text), so none can be taken
# for a ``~`` lexeme. The queries' side: services/transaction_filters.py.
POSTGRES_PREFIX_MARK = "~"
POSTGRES_PREFIX_MAX = 2
_POSTGRES_FUNCTION = (
    "CREATE FUNCTION transactions_search_vector(search_text text) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ "
    f"SELECT words || array_to_tsvector(ARRAY(SELECT '{POSTGRES_PREFIX_MARK}' || left(word, n) "
    f"FROM unnest(tsvector_to_array(words)) AS word, generate_series(1, {POSTGRES_PREFIX_MAX}) AS n)) "
    "FROM to_tsvector('simple', search_text) AS words $$"
)
# A stored tsvector: a query that walks the id index newest-first checks each row's vector
# instead of computing it again (30 µs a row), and the GIN index serves rare words.
_POSTGRES_COLUMN = (
    "ALTER TABLE transactions ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (transactions_search_vector(search_text)) STORED"
)
_POSTGRES_INDEX = "CREATE INDEX ix_transactions_search ON transactions USING gin (search_vector)"
# FTS5 collects terms in memory and writes them out as a new segment, merging segments as they
# pile up, each time the collection reaches ``hashsize`` (1 MB by default). A rebuild with a
# bigger one writes fewer, larger segments and merges far less: 16 s to 7 s CPU on a million rows.
_SQLITE_HASHSIZE = 1024 * 1024
_SQLITE_REBUILD_HASHSIZE = 64 * 1024 * 1024


def create(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(_SQLITE_TABLE)
        connection.exec_driver_sql(_SQLITE_TRIGGER)
    else:
        connection.exec_driver_sql(_POSTGRES_FUNCTION)
        connection.exec_driver_sql(_POSTGRES_COLUMN)
        connection.exec_driver_sql(_POSTGRES_INDEX)


def drop(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS transactions_fts_insert")
        connection.exec_driver_sql("DROP TABLE IF EXISTS transactions_fts")
    else:
        connection.exec_driver_sql("DROP INDEX IF EXISTS ix_transactions_search")
        connection.exec_driver_sql("ALTER TABLE transactions DROP COLUMN IF EXISTS search_vector")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS transactions_search_vector(text)")


def suspend(connection: Connection) -> None:
    """Stop indexing new rows until ``rebuild`` (for a bulk load in one transaction)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("DROP TRIGGER transactions_fts_insert")
    else:
        connection.exec_driver_sql("DROP INDEX ix_transactions_search")


def rebuild(connection: Connection) -> None:
    """Index every row again and resume indexing inserts."""
    if connection.dialect.name == "sqlite":
        set_hashsize = "INSERT INTO transactions_fts(transactions_fts, rank) VALUES ('hashsize', ?)"
        connection.exec_driver_sql(set_hashsize, (_SQLITE_REBUILD_HASHSIZE,))
        connection.exec_driver_sql("INSERT INTO transactions_fts(transactions_fts) VALUES ('rebuild')")
        # The rebuild leaves several segments, and FTS5 merges them a little on every later
        # commit: a purchase's one indexed row then cost 12 ms of CPU on a million rows, against
        # 0.1 ms once they are one segment (3.7 s of optimize at a million rows).
        connection.exec_driver_sql("INSERT INTO transactions_fts(transactions_fts) VALUES ('optimize')")
        connection.exec_driver_sql(set_hashsize, (_SQLITE_HASHSIZE,))
        connection.exec_driver_sql(_SQLITE_TRIGGER)
    else:
        connection.exec_driver_sql(_POSTGRES_INDEX)
