"""Searching the ledger: filters, keyset pages, the window's totals and CSV export.

Built for accounts with millions of rows. Transaction ids grow with time within an account
(the ledger never appends into the past), so a time window becomes an id range found with
two index seeks, every page is an ordered range scan of one composite index
``(account_id, <filter column>, id)`` that stops after ``limit`` rows, and the cursor is
the last id seen. Free text goes through a full-text index (FTS5 on SQLite, GIN on
PostgreSQL) walked newest first. Totals add up per-day aggregates for the whole days of
the window and read raw rows only for its partial first and last days.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import ColumnElement, Select, column, func, literal, literal_column, select, table, text
from sqlalchemy.orm import Session

from credits_tui.api_client.models import (
    Transaction,
    TransactionPage,
    TransactionSummary,
    TransactionType,
    UserRef,
    cents_to_decimal,
)
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.search_index import SQLITE_PREFIX_MAX
from credits_tui.backend.db.schema import DailyTotal, LedgerTransaction, User
from credits_tui.backend.errors import BadRequest, Unprocessable
from credits_tui.backend.services.ledger import search_words

MAX_SEARCH_WORDS = 8
_CURSOR_RE = re.compile(r"^v1:([0-9]{1,19})$")
_fts = table("transactions_fts", column("rowid"))


def transaction_model(row: LedgerTransaction, user: User | None) -> Transaction:
    return Transaction(
        id=row.id, created_at=row.created_at, transaction_type=TransactionType(row.transaction_type),
        process_type=row.process_type,
        user=UserRef(id=user.id, name=user.name, email=user.email) if user else None,
        amount=cents_to_decimal(row.amount_cents), balance_after=cents_to_decimal(row.balance_after_cents),
        description=row.description, reference=row.reference,
    )


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


@dataclass
class _Resolved:
    """A filter checked against the account: users and words resolved, time as ids."""

    account_id: int
    since: datetime | None
    until: datetime | None
    transaction_types: tuple[str, ...]
    process_types: tuple[str, ...]
    user_id: int | None
    words: list[str] = field(default_factory=list)


# The latest ``since`` whose next midnight (the summary's first whole day) a datetime can hold.
_LAST_DAY = datetime(9999, 12, 31, tzinfo=timezone.utc)


def _as_utc(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before the first datetime in UTC
        raise Unprocessable(f"invalid_{name}", f"{name}: this time is outside the supported range.",
                            name) from None


class TransactionService:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.db = database
        self.settings = settings

    # --- resolving ----------------------------------------------------------------------

    def _resolve(self, session: Session, account_id: int, filters: TransactionFilter) -> _Resolved:
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
        user_id = None
        if filters.user is not None:
            user_id = self._resolve_user(session, account_id, filters.user)
        words: list[str] = []
        if filters.q is not None:
            words = search_words(filters.q)[:MAX_SEARCH_WORDS]
            if not words:
                raise Unprocessable("invalid_q", "Search for at least one letter or digit.", "q")
        return _Resolved(account_id, since, until, tuple(t.value for t in filters.transaction_types),
                         filters.process_types, user_id, words)

    @staticmethod
    def _resolve_user(session: Session, account_id: int, user: str) -> int:
        if "\x00" in user:  # no email holds one, and PostgreSQL refuses it in a query
            raise Unprocessable("unknown_user", "No user of this account has that id or email.", "user")
        lookup = User.email == user.strip().lower()
        if user.isascii() and user.isdigit() and len(user) < 19:  # not "²": int() refuses it
            lookup = User.id == int(user)
        found = session.scalar(select(User.id).where(lookup, User.account_id == account_id))
        if found is None:
            raise Unprocessable("unknown_user", "No user of this account has that id or email.", "user")
        return found

    def _id_bounds(self, session: Session, r: _Resolved) -> tuple[int, int] | None:
        """The time window as an inclusive id range (two index seeks), or None when it is empty."""
        T = LedgerTransaction
        in_account = T.account_id == r.account_id
        if r.since is None:
            low = session.scalar(select(func.min(T.id)).where(in_account))
        else:
            low = session.scalar(select(T.id).where(in_account, T.created_at >= r.since)
                                 .order_by(T.created_at, T.id).limit(1))
        if r.until is None:
            high = session.scalar(select(func.max(T.id)).where(in_account))
        else:
            high = session.scalar(select(T.id).where(in_account, T.created_at < r.until)
                                  .order_by(T.created_at.desc(), T.id.desc()).limit(1))
        if low is None or high is None or low > high:
            return None
        return low, high

    def _conditions(self, r: _Resolved, low: int, high: int) -> list[ColumnElement[bool]]:
        T = LedgerTransaction
        conditions: list[ColumnElement[bool]] = [T.account_id == r.account_id, T.id >= low, T.id <= high]
        if r.transaction_types:
            conditions.append(T.transaction_type.in_(r.transaction_types))
        if r.process_types:
            conditions.append(T.process_type.in_(r.process_types))
        if r.user_id is not None:
            conditions.append(T.user_id == r.user_id)
        return conditions

    def _select(self, columns: list, r: _Resolved, low: int, high: int) -> tuple[Select, ColumnElement]:
        """A select of the matching rows and the id column to order or bound it by."""
        T = LedgerTransaction
        conditions = self._conditions(r, low, high)
        if not r.words:
            return select(*columns).where(*conditions), T.id
        if self.db.is_sqlite:
            match = " AND ".join(f'"{word[:SQLITE_PREFIX_MAX]}"*' for word in r.words)
            conditions += [literal(" ").concat(T.search_text).like(f"% {word}%")
                           for word in r.words if len(word) > SQLITE_PREFIX_MAX]
            # The FTS table drives the join, newest rowid first, so a page stops early.
            statement = (select(*columns).select_from(_fts.join(T, T.id == _fts.c.rowid))
                         .where(text("transactions_fts MATCH :match").bindparams(match=match),
                                _fts.c.rowid >= low, _fts.c.rowid <= high, *conditions))
            return statement, _fts.c.rowid
        query = " & ".join(f"{word}:*" for word in r.words)
        statement = select(*columns).where(
            literal_column("transactions.search_vector").op("@@")(
                func.to_tsquery(literal_column("'simple'"), query)),
            *conditions)
        return statement, T.id

    # --- queries ------------------------------------------------------------------------

    def page(self, account_id: int, filters: TransactionFilter, *, limit: int,
             cursor: str | None) -> TransactionPage:
        before = decode_cursor(cursor) if cursor is not None else None  # "" is not a cursor either
        with self.db.read() as session:
            r = self._resolve(session, account_id, filters)
            bounds = self._id_bounds(session, r)
            if bounds is None:
                return TransactionPage(items=[], next_cursor=None)
            low, high = bounds
            if before is not None:
                high = min(high, before - 1)
            rows = self._rows(session, r, low, high, limit + 1)
        has_more = len(rows) > limit
        rows = rows[:limit]
        return TransactionPage(
            items=[transaction_model(row, user) for row, user in rows],
            next_cursor=encode_cursor(rows[-1][0].id) if has_more and rows else None,
        )

    def _rows(self, session: Session, r: _Resolved, low: int, high: int,
              limit: int) -> list[tuple[LedgerTransaction, User | None]]:
        if low > high:
            return []
        statement, order_by = self._select([LedgerTransaction.id], r, low, high)
        page = statement.order_by(order_by.desc()).limit(limit)
        if r.words and not self.db.is_sqlite:
            ids = _postgres_text_page(session, page)
        else:
            ids = session.scalars(page).all()
        if not ids:
            return []
        T = LedgerTransaction
        result = session.execute(
            select(T, User).outerjoin(User, User.id == T.user_id).where(T.id.in_(ids)).order_by(T.id.desc())
        ).all()
        return list(result)

    def iterate(self, account_id: int, filters: TransactionFilter,
                chunk: int = 1000) -> Iterator[tuple[LedgerTransaction, User | None]]:
        """Every matching row, newest first, read a chunk per short read transaction."""
        with self.db.read() as session:
            r = self._resolve(session, account_id, filters)
            bounds = self._id_bounds(session, r)
        if bounds is None:
            return
        low, high = bounds
        while True:
            with self.db.read() as session:
                rows = self._rows(session, r, low, high, chunk)
            yield from rows
            if len(rows) < chunk:
                return
            high = rows[-1][0].id - 1

    def summary(self, account_id: int, filters: TransactionFilter) -> TransactionSummary:
        with self.db.read() as session:
            r = self._resolve(session, account_id, filters)
            count, added, used = self._totals(session, r)
        return TransactionSummary(count=count, credits_added=cents_to_decimal(added),
                                  credits_used=cents_to_decimal(used))

    def _totals(self, session: Session, r: _Resolved) -> tuple[int, int, int]:
        if r.words:  # free text has no aggregates: count the matching rows
            return self._raw_totals(session, r, r.since, r.until)
        first_day = _ceil_day(r.since) if r.since else None
        end_day = _floor_day(r.until) if r.until else None
        if first_day and end_day and first_day >= end_day:
            return self._raw_totals(session, r, r.since, r.until)
        totals = [self._daily_totals(session, r, first_day, end_day)]
        if r.since and first_day and r.since < first_day:
            totals.append(self._raw_totals(session, r, r.since, first_day))
        if r.until and end_day and end_day < r.until:
            totals.append(self._raw_totals(session, r, end_day, r.until))
        return tuple(sum(parts) for parts in zip(*totals))  # type: ignore[return-value]

    def _daily_totals(self, session: Session, r: _Resolved, first_day: datetime | None,
                      end_day: datetime | None) -> tuple[int, int, int]:
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
        if r.user_id is not None:
            conditions.append(D.user_id == r.user_id)
        count, added, used = session.execute(
            select(func.coalesce(func.sum(D.count), 0), func.coalesce(func.sum(D.added_cents), 0),
                   func.coalesce(func.sum(D.used_cents), 0)).where(*conditions)
        ).one()
        return int(count), int(added), int(used)

    def _raw_totals(self, session: Session, r: _Resolved, since: datetime | None,
                    until: datetime | None) -> tuple[int, int, int]:
        window = _Resolved(r.account_id, since, until, r.transaction_types, r.process_types, r.user_id, r.words)
        bounds = self._id_bounds(session, window)
        if bounds is None:
            return 0, 0, 0
        T = LedgerTransaction
        amount = T.amount_cents
        statement, _ = self._select([
            func.count(),
            func.coalesce(func.sum(func.abs(amount) + amount), 0),  # twice the positive part
            func.coalesce(func.sum(func.abs(amount) - amount), 0),  # twice the negative part
        ], window, *bounds)
        count, added2, used2 = session.execute(statement).one()
        return int(count), int(added2) // 2, int(used2) // 2


# PostgreSQL cannot estimate how often a prefix word occurs, so it walks the id index newest
# first and checks each row: best for common words (a page in a few ms), a full scan for a
# word that is rare or absent (0.4 s on a million rows). Give that walk a short budget;
# when it runs out the words are rare, and the GIN index finds all their rows at once.
_WALK_BUDGET_MS = 30


def _postgres_text_page(session: Session, page: Select) -> list[int]:
    from psycopg.errors import QueryCanceled
    from sqlalchemy.exc import OperationalError

    try:
        with session.begin_nested():
            session.execute(text(f"SET LOCAL statement_timeout = {_WALK_BUDGET_MS}"))
            ids = list(session.scalars(page).all())
            session.execute(text("SET LOCAL statement_timeout = 0"))
            return ids
    except OperationalError as error:
        if not isinstance(error.orig, QueryCanceled):
            raise
    with session.begin_nested():
        session.execute(text("SET LOCAL enable_indexscan = off"))
        session.execute(text("SET LOCAL enable_seqscan = off"))
        ids = list(session.scalars(page).all())
        session.execute(text("SET LOCAL enable_indexscan = on"))
        session.execute(text("SET LOCAL enable_seqscan = on"))
        return ids


def _floor_day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(0), tzinfo=timezone.utc)


def _ceil_day(moment: datetime) -> datetime:
    floor = _floor_day(moment)
    return floor if floor == moment else floor + timedelta(days=1)


CSV_COLUMNS = ["id", "created_at", "transaction_type", "process_type", "user_email", "user_name",
               "amount", "balance_after", "description", "reference"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str | None) -> str:
    """Text as a spreadsheet shows it, never run as a formula (CSV injection)."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_lines(rows: Iterator[tuple[LedgerTransaction, User | None]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return chunk

    writer.writerow(CSV_COLUMNS)
    for count, (row, user) in enumerate(rows, start=1):
        writer.writerow([
            row.id, row.created_at.isoformat().replace("+00:00", "Z"), row.transaction_type,
            row.process_type or "", _cell(user.email if user else None), _cell(user.name if user else None),
            cents_to_decimal(row.amount_cents), cents_to_decimal(row.balance_after_cents),
            _cell(row.description), _cell(row.reference),
        ])
        if count % 500 == 0:
            yield flush()
    yield flush()
