"""Searching the ledger: filters, keyset pages, the window's totals and CSV export.

Built for accounts with millions of rows. Transaction ids grow with time within an account
(the ledger never appends into the past), so a time window becomes an id range found with
two index seeks, every page is an ordered range scan of one composite index
``(account_id, <filter column>, id)`` that stops after ``limit`` rows, and the cursor is
the last id seen. Free text goes through a full-text index (FTS5 on SQLite, GIN on
PostgreSQL) walked newest first. Totals add up per-day aggregates for the whole days of
the window and read raw rows only for its partial first and last days.

A page, and a summary, is one statement: the window's ends, the user filter and the users'
names are subqueries and a join inside it, so PostgreSQL answers in one round trip (and
prepares it once psycopg has seen it ``prepare_threshold`` times, 5 by default).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Row,
    ScalarSelect,
    Select,
    SQLColumnExpression,
    case,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from credits_tui.api_client.models import (
    Transaction,
    TransactionPage,
    TransactionSummary,
    TransactionType,
    cents_to_decimal,
)
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import DailyTotal, LedgerTransaction, User
from credits_tui.backend.db.search_index import SQLITE_PREFIX_MAX
from credits_tui.backend.errors import BadRequest, Unprocessable
from credits_tui.backend.services.ledger import search_words
from credits_tui.formatting import spreadsheet_cell

MAX_SEARCH_WORDS = 8
_CURSOR_RE = re.compile(r"^v1:([0-9]{1,19})$")
_fts = table("transactions_fts", column("rowid"))


class LedgerFields(Protocol):
    """A ledger row's columns: an ORM row, or a page's row read with its user's columns."""

    id: int
    created_at: datetime
    transaction_type: str
    process_type: str | None
    amount_cents: int
    balance_after_cents: int
    description: str
    reference: str | None


def transaction_model(row: LedgerFields, user: User | None) -> Transaction:
    return Transaction.model_validate(_transaction_fields(
        row, {"id": user.id, "name": user.name, "email": user.email} if user else None))


def _transaction_fields(row: LedgerFields, user: dict[str, Any] | None) -> dict[str, Any]:
    # Plain fields, validated once by the model that holds them: for a page of rows that is
    # cheaper than building (or even constructing unvalidated) one model per row.
    return {"id": row.id, "created_at": row.created_at, "transaction_type": row.transaction_type,
            "process_type": row.process_type, "user": user, "amount": cents_to_decimal(row.amount_cents),
            "balance_after": cents_to_decimal(row.balance_after_cents), "description": row.description,
            "reference": row.reference}


def _page_user(row: Row[Any]) -> dict[str, Any] | None:
    return None if row.user_id is None else {"id": row.user_id, "name": row.user_name, "email": row.user_email}


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    invalid = BadRequest("invalid_cursor", "This page cursor is not valid: start again from the first page.",
                         "cursor")
    if len(cursor) > 64:
        raise invalid
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    match = _CURSOR_RE.match(decoded)
    if not match:
        raise invalid
    return int(match.group(1))


@dataclass(frozen=True)
class TransactionFilter:
    """The filters of DESIGN.md §3, as the API received them (already type-checked)."""

    since: datetime | None = None
    until: datetime | None = None
    transaction_types: tuple[TransactionType, ...] = ()
    process_types: tuple[str, ...] = ()
    user: str | None = None
    q: str | None = None


@dataclass(frozen=True)
class _Resolved:
    """A filter checked against the account; the user is matched inside the query itself."""

    account_id: int
    since: datetime | None
    until: datetime | None
    transaction_types: tuple[str, ...]
    process_types: tuple[str, ...]
    user: str | None
    words: tuple[str, ...] = ()


# The latest ``since`` whose next midnight (the summary's first whole day) a datetime can hold.
_LAST_DAY = datetime(9999, 12, 31, tzinfo=UTC)


def _as_utc(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before the first datetime in UTC
        raise Unprocessable(f"invalid_{name}", f"{name}: this time is outside the supported range.",
                            name) from None


# A select of any columns (SQLAlchemy types a select by the tuple of its columns).
_AnySelect = Select[*tuple[Any, ...]]
_T = LedgerTransaction
_BOUND = aliased(LedgerTransaction, name="bound")
# A page's ledger columns; the users' names and emails are joined to them (see _rows).
_PAGE_COLUMNS = (_T.id, _T.created_at, _T.transaction_type, _T.process_type, _T.user_id, _T.amount_cents,
                 _T.balance_after_cents, _T.description, _T.reference)
_UNKNOWN_USER = ("unknown_user", "No user of this account has that id or email.", "user")


class TransactionService:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.db = database
        self.settings = settings

    # --- resolving ----------------------------------------------------------------------

    def _resolve(self, account_id: int, filters: TransactionFilter) -> _Resolved:
        """Checks that need no database; the user is checked only when nothing matched."""
        since, until = _as_utc(filters.since, "since"), _as_utc(filters.until, "until")
        if since and since > _LAST_DAY:
            raise Unprocessable("invalid_since", "since: this time is outside the supported range.", "since")
        if since and until and since >= until:
            raise Unprocessable("invalid_time_range", "The start of the time frame must be before its end.",
                                "since")
        known = {p.process_type for p in self.settings.prices}
        for process_type in filters.process_types:
            if process_type not in known:
                raise Unprocessable("unknown_process_type",
                                    f"Unknown process type {process_type[:64]!r}; see GET /credits/prices.",
                                    "process_type")
        if filters.user is not None and "\x00" in filters.user:  # no email holds one; PostgreSQL refuses it
            raise Unprocessable(*_UNKNOWN_USER)
        words: list[str] = []
        if filters.q is not None:
            words = search_words(filters.q)[:MAX_SEARCH_WORDS]
            if not words:
                raise Unprocessable("invalid_q", "Search for at least one letter or digit.", "q")
        return _Resolved(account_id, since, until, tuple(t.value for t in filters.transaction_types),
                         filters.process_types, filters.user, tuple(words))

    @staticmethod
    def _user_id(r: _Resolved) -> ScalarSelect[int]:
        """The filter's user as a subquery (NULL, so nothing matches, for a stranger)."""
        assert r.user is not None
        lookup = User.email == r.user.strip().lower()
        if r.user.isascii() and r.user.isdigit() and len(r.user) < 19:  # not "²": int() refuses it
            lookup = User.id == int(r.user)
        return select(User.id).where(lookup, User.account_id == r.account_id).scalar_subquery()

    def _check_user(self, session: Session, r: _Resolved) -> None:
        """When nothing matched, tell a filter by an unknown user from one with no rows."""
        if r.user is not None and session.scalar(select(self._user_id(r))) is None:
            raise Unprocessable(*_UNKNOWN_USER)

    @staticmethod
    def _time_bounds(r: _Resolved, ids: SQLColumnExpression[int]) -> list[ColumnElement[bool]]:
        """The time window as a range of ``ids``, each end one index seek inside the statement."""
        in_account = _BOUND.account_id == r.account_id
        bounds: list[ColumnElement[bool]] = []
        if r.since is not None:
            bounds.append(ids >= select(_BOUND.id).where(in_account, _BOUND.created_at >= r.since)
                          .order_by(_BOUND.created_at, _BOUND.id).limit(1).scalar_subquery())
        if r.until is not None:
            bounds.append(ids <= select(_BOUND.id).where(in_account, _BOUND.created_at < r.until)
                          .order_by(_BOUND.created_at.desc(), _BOUND.id.desc()).limit(1).scalar_subquery())
        return bounds

    def _select(self, columns: Sequence[SQLColumnExpression[Any]], r: _Resolved,
                before: int | None = None) -> tuple[_AnySelect, SQLColumnExpression[int]]:
        """A select of the matching rows (older than ``before``) and the id column to order it by."""
        T = _T
        conditions: list[ColumnElement[bool]] = [T.account_id == r.account_id]
        if r.transaction_types:
            conditions.append(T.transaction_type.in_(r.transaction_types))
        if r.process_types:
            conditions.append(T.process_type.in_(r.process_types))
        if r.user is not None:
            conditions.append(T.user_id == self._user_id(r))
        if r.words and self.db.is_sqlite:
            ids: SQLColumnExpression[int] = _fts.c.rowid
            match = " AND ".join(f'"{word[:SQLITE_PREFIX_MAX]}"*' for word in r.words)
            conditions += [literal(" ").concat(T.search_text).like(f"% {word}%")
                           for word in r.words if len(word) > SQLITE_PREFIX_MAX]
            # The FTS table drives the join, newest rowid first, so a page stops early.
            statement = (select(*columns).select_from(_fts.join(T, T.id == _fts.c.rowid))
                         .where(text("transactions_fts MATCH :match").bindparams(match=match)))
        else:
            ids = T.id
            statement = select(*columns)
            if r.words:
                query = " & ".join(f"{word}:*" for word in r.words)
                conditions.append(literal_column("transactions.search_vector").op("@@")(
                    func.to_tsquery(literal_column("'simple'"), query)))
        conditions += self._time_bounds(r, ids)
        if before is not None:
            conditions.append(ids < before)
        return statement.where(*conditions), ids

    @contextmanager
    def _read(self, r: _Resolved) -> Iterator[Session]:
        """A read that is one statement (two when nothing matched a user filter).

        One statement sees a consistent snapshot by itself, so PostgreSQL runs it in autocommit
        and the page costs no BEGIN and ROLLBACK round trips. Free text there needs a
        transaction: its fallback sets plan settings for the transaction (SET LOCAL).
        """
        with self.db.read() as session:
            if not self.db.is_sqlite and not r.words:
                session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session

    # --- queries ------------------------------------------------------------------------

    def page(self, account_id: int, filters: TransactionFilter, *, limit: int,
             cursor: str | None) -> TransactionPage:
        before = decode_cursor(cursor) if cursor is not None else None  # "" is not a cursor either
        r = self._resolve(account_id, filters)
        with self._read(r) as session:
            rows = self._rows(session, r, before, limit + 1)
            if not rows:
                self._check_user(session, r)
        has_more = len(rows) > limit
        rows = rows[:limit]
        return TransactionPage.model_validate({
            "items": [_transaction_fields(row, _page_user(row)) for row in rows],
            "next_cursor": encode_cursor(rows[-1].id) if has_more and rows else None,
        })

    def _rows(self, session: Session, r: _Resolved, before: int | None, limit: int) -> list[Row[Any]]:
        """One statement: the newest ``limit`` matching rows, with their users' names and emails."""
        matching, ids = self._select(_PAGE_COLUMNS, r, before)
        # The limit applies before the join, so the index walk stops after ``limit`` rows.
        page = matching.order_by(ids.desc()).limit(limit).subquery("page")
        statement = (select(page, User.name.label("user_name"), User.email.label("user_email"))
                     .outerjoin(User, User.id == page.c.user_id).order_by(page.c.id.desc()))
        if r.words and not self.db.is_sqlite:
            return _postgres_text_page(session, statement)
        return list(session.execute(statement).all())

    def iterate(self, account_id: int, filters: TransactionFilter, chunk: int = 1000) -> Iterator[Row[Any]]:
        """Every matching row, newest first, read a chunk per short read transaction."""
        r = self._resolve(account_id, filters)
        before = None
        while True:
            with self._read(r) as session:
                rows = self._rows(session, r, before, chunk)
                if before is None and not rows:
                    self._check_user(session, r)
            yield from rows
            if len(rows) < chunk:
                return
            before = rows[-1].id

    def summary(self, account_id: int, filters: TransactionFilter) -> TransactionSummary:
        r = self._resolve(account_id, filters)
        with self._read(r) as session:
            count, added, used = self._totals(session, r)
            if not count:
                self._check_user(session, r)
        return TransactionSummary(count=count, credits_added=cents_to_decimal(added),
                                  credits_used=cents_to_decimal(used))

    def _totals(self, session: Session, r: _Resolved) -> tuple[int, int, int]:
        """One statement: per-day aggregates for the window's whole days, raw rows for the rest."""
        parts: list[_AnySelect]
        first_day = _ceil_day(r.since) if r.since else None
        end_day = _floor_day(r.until) if r.until else None
        if r.words or (first_day and end_day and first_day >= end_day):  # free text has no aggregates
            parts = [self._raw_totals(r)]
        else:
            parts = [self._daily_totals(r, first_day, end_day)]
            if r.since and first_day and r.since < first_day:
                parts.append(self._raw_totals(replace(r, until=first_day)))
            if r.until and end_day and end_day < r.until:
                parts.append(self._raw_totals(replace(r, since=end_day)))
        statement = parts[0] if len(parts) == 1 else union_all(*parts)
        totals = session.execute(statement).all()
        return tuple(sum(int(part[i] or 0) for part in totals) for i in range(3))  # type: ignore[return-value]

    def _daily_totals(self, r: _Resolved, first_day: datetime | None, end_day: datetime | None) -> _AnySelect:
        D = DailyTotal
        conditions = [D.account_id == r.account_id]
        if first_day:
            conditions.append(D.day >= first_day.date())
        if end_day:
            conditions.append(D.day < end_day.date())
        if r.transaction_types:
            conditions.append(D.transaction_type.in_(r.transaction_types))
        if r.process_types:
            conditions.append(D.process_type.in_(r.process_types))
        if r.user is not None:
            conditions.append(D.user_id == self._user_id(r))
        return select(func.sum(D.count), func.sum(D.added_cents), func.sum(D.used_cents)).where(*conditions)

    def _raw_totals(self, r: _Resolved) -> _AnySelect:
        amount = _T.amount_cents
        statement, _ = self._select([
            func.count(),
            func.sum(case((amount > 0, amount), else_=0)),
            func.sum(case((amount < 0, -amount), else_=0)),
        ], r)
        return statement


# PostgreSQL cannot estimate how often a prefix word occurs, so it walks the id index newest
# first and checks each row: best for common words (a page in a few ms), a full scan for a
# word that is rare or absent (0.4 s on a million rows). Give that walk a short budget;
# when it runs out the words are rare, and the GIN index finds all their rows at once.
_WALK_BUDGET_MS = 30


def _postgres_text_page(session: Session, page: _AnySelect) -> list[Row[Any]]:
    from psycopg.errors import QueryCanceled
    from sqlalchemy.exc import OperationalError

    try:
        with session.begin_nested():
            session.execute(text(f"SET LOCAL statement_timeout = {_WALK_BUDGET_MS}"))
            rows = list(session.execute(page).all())
            session.execute(text("SET LOCAL statement_timeout = 0"))
            return rows
    except OperationalError as error:
        if not isinstance(error.orig, QueryCanceled):
            raise
    with session.begin_nested():
        session.execute(text("SET LOCAL enable_indexscan = off"))
        session.execute(text("SET LOCAL enable_seqscan = off"))
        rows = list(session.execute(page).all())
        session.execute(text("SET LOCAL enable_indexscan = on"))
        session.execute(text("SET LOCAL enable_seqscan = on"))
        return rows


def _floor_day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(0), tzinfo=UTC)


def _ceil_day(moment: datetime) -> datetime:
    floor = _floor_day(moment)
    return floor if floor == moment else floor + timedelta(days=1)


CSV_COLUMNS = ["id", "created_at", "transaction_type", "process_type", "user_email", "user_name",
               "amount", "balance_after", "description", "reference"]
_cell = spreadsheet_cell  # one rule for every CSV this product writes (the CLI's audit export too)


def csv_lines(rows: Iterator[Row[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return chunk

    writer.writerow(CSV_COLUMNS)
    for count, row in enumerate(rows, start=1):
        writer.writerow([
            row.id, row.created_at.isoformat().replace("+00:00", "Z"), row.transaction_type,
            row.process_type or "", _cell(row.user_email), _cell(row.user_name),
            cents_to_decimal(row.amount_cents), cents_to_decimal(row.balance_after_cents),
            _cell(row.description), _cell(row.reference),
        ])
        if count % 500 == 0:
            yield flush()
    yield flush()
