"""Searching the ledger: keyset pages and CSV export; the pieces live beside it.

Built for accounts with millions of rows. ``transaction_filters`` turns the filters into one
select (a time window is an id range found with two index seeks; free text goes through
FTS5 on SQLite, GIN on PostgreSQL), ``transaction_totals`` answers the summary from per-day
aggregates, ``transaction_rows`` shapes rows, cursors and CSV lines. Here every page is an
ordered range scan of one composite index ``(account_id, <filter column>, id)`` that stops
after ``limit`` rows (one more tells whether there is a next page, so no count), and the
cursor is the last id seen.

A page, and a summary, is one statement: the window's ends, the user filter and the users'
names are subqueries and a join inside it, so PostgreSQL answers in one round trip, in
autocommit (no BEGIN or ROLLBACK), and prepares it once psycopg has seen it
``prepare_threshold`` times (5 by default). A second statement runs only when nothing
matched a user filter, to tell an unknown user from one without rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from sqlalchemy import Row, Subquery, func, select, union_all
from sqlalchemy.orm import Session

from credits_tui.api_client.models import TransactionPage
from credits_tui.backend.db.schema import User
from credits_tui.backend.services.transaction_filters import (
    _T,
    MAX_SEARCH_WORDS,
    TransactionFilter,
    _Resolved,
)
from credits_tui.backend.services.transaction_rows import (
    CSV_COLUMNS,
    csv_lines,
    decode_cursor,
    encode_cursor,
    page_user,
    transaction_fields,
    transaction_model,
)
from credits_tui.backend.services.transaction_totals import TransactionTotals, _ceil_day, _floor_day

# What other modules import from here, as they did before the search was split up.
__all__ = ["CSV_COLUMNS", "MAX_SEARCH_WORDS", "TransactionFilter", "TransactionService", "_Resolved",
           "_ceil_day", "_floor_day", "csv_lines", "decode_cursor", "encode_cursor", "transaction_model"]

# Rows checked newest first before free text on PostgreSQL turns to its GIN index (see
# _postgres_text_page): about 4 ms of walking, and the words of a page found after it are rare.
_WALK_ROWS = 10_000
# A page's ledger columns; the users' names and emails are joined to them (see _rows).
_PAGE_COLUMNS = (_T.id, _T.created_at, _T.transaction_type, _T.process_type, _T.user_id, _T.amount_cents,
                 _T.balance_after_cents, _T.description, _T.reference)


class TransactionService(TransactionTotals):
    def page(self, account_id: int, filters: TransactionFilter, *, limit: int,
             cursor: str | None) -> TransactionPage:
        before = decode_cursor(cursor) if cursor is not None else None  # "" is not a cursor either
        r = self._resolve(account_id, filters)
        with self._read() as session:
            rows = self._rows(session, r, before, limit + 1)
            if not rows:
                self._check_user(session, r)
        has_more = len(rows) > limit
        rows = rows[:limit]
        return TransactionPage.model_validate({
            "items": [transaction_fields(row, page_user(row)) for row in rows],
            "next_cursor": encode_cursor(rows[-1].id) if has_more and rows else None,
        })

    def _rows(self, session: Session, r: _Resolved, before: int | None, limit: int) -> list[Row[Any]]:
        """One statement: the newest ``limit`` matching rows, with their users' names and emails."""
        if r.words and not self.db.is_sqlite:
            page = self._postgres_text_page(r, before, limit)
        else:
            matching, ids = self._select(_PAGE_COLUMNS, r, before)
            # The limit applies before the join, so the index walk stops after ``limit`` rows.
            page = matching.order_by(*self._order(r, ids)).limit(limit).subquery("page")
        statement = (select(page, User.name.label("user_name"), User.email.label("user_email"))
                     .outerjoin(User, User.id == page.c.user_id).order_by(page.c.id.desc()))
        return list(session.execute(statement).all())

    def _postgres_text_page(self, r: _Resolved, before: int | None, limit: int) -> Subquery:
        """Free text on PostgreSQL, as one statement whose cost is bounded for any word.

        Walking the newest rows and checking each one's words is fast for a common word and
        a full scan for a rare one; the GIN index is the reverse (it finds every match, to be
        sorted). PostgreSQL cannot tell which a prefix is, so the statement does both, in
        turn: it checks the account's newest ``_WALK_ROWS`` rows (in the time window), and
        only when they hold fewer than ``limit`` matches are older ones found through the GIN
        index, for words that rare there (under ``limit`` in ``_WALK_ROWS``) have few matches.
        """
        window, ids = self._select([_T.id], replace(r, words=(), transaction_types=(), process_types=(), user=None),
                                   before)
        # The oldest of those rows (0 when there are fewer: then they are all of them).
        pivot = func.coalesce(window.order_by(ids.desc()).offset(_WALK_ROWS - 1).limit(1).scalar_subquery(), 0)
        matching, _ = self._select(_PAGE_COLUMNS, r, before)
        newest = matching.where(_T.id >= pivot).order_by(_T.id.desc()).limit(limit)
        # ``id + 0``: no index gives that order, so the plan cannot walk the id index again; nor
        # can it read that index for the older ids, as a bitmap to AND with the text index's: it
        # guesses a third of the ledger there (the pivot is not known when it plans) and read
        # 990,000 ids for "refund 1" (116 of its 200 ms). The pivot is checked on each match.
        older = matching.where(_T.id + 0 < pivot).order_by((_T.id + 0).desc()).limit(limit)
        # No ORDER BY around the union: its branches are read in turn, newest rows first.
        both = union_all(select(newest.subquery()), select(older.subquery()))
        return select(both.subquery()).limit(limit).subquery("page")

    def iterate(self, account_id: int, filters: TransactionFilter, chunk: int = 1000) -> Iterator[Row[Any]]:
        """Every matching row, newest first, read a chunk per short read transaction."""
        r = self._resolve(account_id, filters)
        before = None
        while True:
            with self._read() as session:
                rows = self._rows(session, r, before, chunk)
                if before is None and not rows:
                    self._check_user(session, r)
            yield from rows
            if len(rows) < chunk:
                return
            before = rows[-1].id
