"""Resolving a search's filters into one select over the ledger.

Transaction ids grow with time within an account (the ledger never appends into the past),
so a time window becomes an id range found with two index seeks, and every page is an
ordered range scan of one composite index ``(account_id, <filter column>, id)``. Free text
goes through a full-text index (FTS5 on SQLite, GIN on PostgreSQL).
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    SQLColumnExpression,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session, aliased

from credits_tui.api_client.models import TransactionType
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import LedgerTransaction, User
from credits_tui.backend.db.search_index import POSTGRES_PREFIX_MARK, POSTGRES_PREFIX_MAX, SQLITE_PREFIX_MAX
from credits_tui.backend.errors import Unprocessable
from credits_tui.backend.services.ledger import search_words

MAX_SEARCH_WORDS = 8
_fts = table("transactions_fts", column("rowid"))
# PostgreSQL's stored tsvector of ``search_text`` (see db/search_index.py); not in the ORM model.
SEARCH_VECTOR: ColumnElement[Any] = literal_column("transactions.search_vector")


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


def time_window(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """A search's time frame in UTC, checked: a start within the supported range, before the end."""
    since, until = _as_utc(since, "since"), _as_utc(until, "until")
    if since and since > _LAST_DAY:
        raise Unprocessable("invalid_since", "since: this time is outside the supported range.", "since")
    if since and until and since >= until:
        raise Unprocessable("invalid_time_range", "The start of the time frame must be before its end.", "since")
    return since, until


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
_UNKNOWN_USER = ("unknown_user", "No user of this account has that id or email.", "user")


class TransactionQueries:
    """The filters of a transaction search, resolved and turned into selects."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.db = database
        self.settings = settings

    # --- resolving ----------------------------------------------------------------------

    def _resolve(self, account_id: int, filters: TransactionFilter) -> _Resolved:
        """Checks that need no database; the user is checked only when nothing matched."""
        since, until = time_window(filters.since, filters.until)
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
            if self.db.is_sqlite:
                # ``==``, so the (account, user, id) index also seeks the id range of a time
                # window: with a range on the user SQLite reads every row of that user instead.
                conditions.append(T.user_id == self._user_id(r))
            else:
                # A range of one, not ``==``: see _order.
                conditions.append(T.user_id.between(self._user_id(r), self._user_id(r)))
        if r.words and self.db.is_sqlite:
            ids: SQLColumnExpression[int] = _fts.c.rowid
            conditions += [_a_word_starts_with(word) for word in r.words if len(word) > SQLITE_PREFIX_MAX]
            # The FTS table drives the join, newest rowid first, so a page stops early.
            statement = (select(*columns).select_from(_fts.join(T, T.id == _fts.c.rowid))
                         .where(text("transactions_fts MATCH :match").bindparams(match=_fts5_query(r))))
        else:
            ids = T.id
            statement = select(*columns)
            if r.words:
                # A word PostgreSQL's parser may not keep whole (it drops ² and ½) is checked
                # against the row's words, as SQLite's long words are: in a text query it would
                # be dropped too, and "refund ½" would find every refund.
                conditions += [_a_word_starts_with(word) for word in r.words if not _parsed_whole(word)]
                query = postgres_tsquery(r)
                if query is not None:
                    conditions.append(SEARCH_VECTOR.op("@@")(query))
        conditions += self._time_bounds(r, ids)
        if before is not None:
            conditions.append(ids < before)
        return statement.where(*conditions), ids

    @staticmethod
    def _order(r: _Resolved, ids: SQLColumnExpression[int]) -> list[ColumnElement[Any]]:
        """Newest first; with a user filter, in the order of the ``(account, user, id)`` index.

        For one user that is the same order, but only that index gives it, so the plan walks
        that user's rows. PostgreSQL plans before the user's id is known and would otherwise
        walk the whole ledger checking each row (1.3 s for a user with none on a million).
        On PostgreSQL the user is matched as a range of one (see _select): it takes
        ``user_id = x`` to make the column a constant, and then the id index gives this order too.
        """
        if r.user is not None and not r.words:
            return [_T.user_id.desc(), ids.desc()]
        return [ids.desc()]

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A read that is one statement (two when nothing matched a user filter).

        One statement sees a consistent snapshot by itself, so PostgreSQL runs it in autocommit
        and the page costs no BEGIN and ROLLBACK round trips.
        """
        with self.db.read() as session:
            if not self.db.is_sqlite:
                session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session


# Every row's indexed text holds its transaction type's and process type's words (see
# services/ledger.py), so with a type filter those words join the free-text query: not a
# different answer (the filter itself still applies) but fewer candidates from the text index.
def _filter_words(r: _Resolved) -> list[list[list[str]]]:
    """For each filter, its alternatives, each the words of one value (``auto_recharge``: auto, recharge)."""
    return [[search_words(value) for value in values] for values in (r.transaction_types, r.process_types) if values]


def _a_word_starts_with(word: str) -> ColumnElement[bool]:
    """The row's own words checked for one that starts with ``word`` (words hold no LIKE wildcards)."""
    return literal(" ").concat(_T.search_text).like(f"% {word}%")


def _fts5_query(r: _Resolved) -> str:
    terms = [f'"{word[:SQLITE_PREFIX_MAX]}"*' for word in r.words]
    terms += ["(" + " OR ".join("(" + " AND ".join(f'"{word}"' for word in value) + ")" for value in alternatives)
              + ")" for alternatives in _filter_words(r)]
    return " AND ".join(terms)


def postgres_tsquery(r: _Resolved) -> ColumnElement[Any] | None:
    """Each word as a prefix, a short one as its prefix lexeme (``~re``, see db/search_index.py).

    A word the parser keeps only part of (ω² is ω to it) is there for that part, which finds
    the rows that may match; the row's text check decides (_select). None when no word keeps
    anything and no filter adds words.
    """
    short = [word for word in r.words if _has_prefix_lexeme(word)]
    terms = [f"{word}:*" for word in r.words if _keeps_part(word) and not _has_prefix_lexeme(word)]
    terms += ["(" + " | ".join("(" + " & ".join(value) + ")" for value in alternatives) + ")"
              for alternatives in _filter_words(r)]
    text_query = func.to_tsquery(literal_column("'simple'"), " & ".join(terms)) if terms else None
    if not short:
        return text_query
    # A cast, as to_tsquery's parser would drop the mark; the text is safe to cast because
    # _has_prefix_lexeme lets only letters and digits through (no quote, no backslash).
    prefixes = cast(" & ".join(f"'{POSTGRES_PREFIX_MARK}{word}'" for word in short), TSQUERY)
    return prefixes if text_query is None else text_query.op("&&")(prefixes)


def _parsed_whole(word: str) -> bool:
    """Whether PostgreSQL's parser keeps the word as one word or number, as the stored vectors
    have it: letters and ASCII digits. It drops some of what Python calls digits (², ½)."""
    return all(_kept(c) for c in word)


def _keeps_part(word: str) -> bool:
    return any(_kept(c) for c in word)


def _kept(character: str) -> bool:
    return character.isalpha() or character in string.digits


def _has_prefix_lexeme(word: str) -> bool:
    """Whether the stored vectors hold this word as a prefix lexeme of its own."""
    return len(word) <= POSTGRES_PREFIX_MAX and _parsed_whole(word)
