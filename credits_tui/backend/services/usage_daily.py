"""Where the credits go: usage per day and process type (DESIGN.md §9).

Without a user filter the whole days of the window come from the usage rollup
(``usage_daily_totals``): one row per day and process type, already summed, read in the
answer's order, so a 13-month chart is a few thousand rows whatever the number of
transactions. A user filter reads the per-day aggregates that carry the user
(``transaction_daily_totals``) and sums them per day and process type. Raw rows are read only
for the partial first and last days of a window that does not start or end at midnight UTC,
the way the transaction summary does. Free text (``q``) has no aggregates: it sums the
matching rows the full-text index finds, so its cost grows with the number of matches.

Every part is a statement that yields (day as 'YYYY-MM-DD', process type, cents, units) in
(day, process type) order over days no other part covers, so the answer is the parts one
after the other, written as JSON without building a model per entry.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Select,
    SQLColumnExpression,
    String,
    cast,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from credits_tui.api_client.models import TransactionType
from credits_tui.backend.db.schema import DailyTotal, DailyUsageTotal, LedgerTransaction, table_of
from credits_tui.backend.services.transactions import (
    TransactionFilter,
    TransactionService,
    _ceil_day,
    _floor_day,
    _Resolved,
)

_USAGE = TransactionType.usage.value
# (day as 'YYYY-MM-DD', process type, credits used in cents, units)
_Part = tuple[str, str, int, int]
_ROLLUP = table_of(DailyUsageTotal).c
_TOTALS = table_of(DailyTotal).c


class UsageService(TransactionService):
    """The transaction filters, resolved as for the transaction list, summed per day."""

    def daily_json(self, account_id: int, filters: TransactionFilter) -> str:
        """The ``DailyUsage`` answer (api_client/models.py) as JSON, written directly: a 13-month
        answer has thousands of entries, and a model or even a dict per entry cost more CPU than
        the query. The tests hold every answer against ``DailyUsage``."""
        r = self._resolve(account_id, filters)
        with self.db.read() as session:
            parts: list[_Part] = []
            if not r.transaction_types or _USAGE in r.transaction_types:
                parts = self._parts(session, replace(r, transaction_types=(_USAGE,)))
            if not parts:
                self._check_user(session, r)  # a stranger's email is an error, not "no usage"
        return '{"days":[' + ",".join(_entries(parts)) + '],"currency":"credits"}'

    def _parts(self, session: Session, r: _Resolved) -> list[_Part]:
        if r.words:
            return self._all(session, self._raw_days(r, r.since, r.until))
        first_day = _ceil_day(r.since) if r.since else None
        end_day = _floor_day(r.until) if r.until else None
        if first_day and end_day and first_day > end_day:  # the window lies inside one day
            return self._all(session, self._raw_days(r, r.since, r.until))
        whole_days = self._rollup_days if r.user is None else self._user_days
        parts = []
        if r.since and first_day and r.since < first_day:
            parts += self._all(session, self._raw_days(r, r.since, first_day))
        parts += self._all(session, whole_days(r, first_day, end_day))
        if r.until and end_day and end_day < r.until:
            parts += self._all(session, self._raw_days(r, end_day, r.until))
        return parts

    @staticmethod
    def _all(session: Session, statement: Select[_Part]) -> list[_Part]:
        return session.connection().execute(statement).all()  # type: ignore[return-value]  # Rows are tuples

    def _rollup_days(self, r: _Resolved, first_day: datetime | None, end_day: datetime | None) -> Select[_Part]:
        """Whole days from the rollup: an ordered range of its primary key, nothing summed."""
        D = _ROLLUP
        conditions = [D.account_id == r.account_id, *_day_range(D.day, first_day, end_day)]
        if r.process_types:
            conditions.append(D.process_type.in_(r.process_types))
        return (select(self._day_text(D.day), D.process_type, D.used_cents, D.quantity)
                .where(*conditions).order_by(*self._in_order(D.day, D.process_type)))

    def _user_days(self, r: _Resolved, first_day: datetime | None, end_day: datetime | None) -> Select[_Part]:
        """Whole days of one user's usage, from the aggregates that carry the user."""
        D = _TOTALS
        conditions = [D.account_id == r.account_id, D.transaction_type == _USAGE, D.user_id == self._user_id(r),
                      *_day_range(D.day, first_day, end_day)]
        if r.process_types:
            conditions.append(D.process_type.in_(r.process_types))
        return (select(self._day_text(D.day), D.process_type, self._sum(D.used_cents), self._sum(D.quantity))
                .where(*conditions).group_by(D.day, D.process_type)
                .order_by(*self._in_order(D.day, D.process_type)))

    def _raw_days(self, r: _Resolved, since: datetime | None, until: datetime | None) -> Select[_Part]:
        T = LedgerTransaction
        # SQLite keeps times as ISO text, so its date() is the UTC day as 'YYYY-MM-DD'.
        day = func.date(T.created_at) if self.db.is_sqlite else cast(T.created_at, Date)
        statement, _ = self._select([self._day_text(day), func.coalesce(T.process_type, ""), self._sum(-T.amount_cents),
                                     self._sum(func.coalesce(T.quantity, 0))], replace(r, since=since, until=until))
        return statement.group_by(day, T.process_type).order_by(*self._in_order(day, T.process_type))

    def _day_text(self, day: ColumnElement[Any]) -> ColumnElement[str]:
        """A date as 'YYYY-MM-DD', made by the database: SQLite has that text already, and
        reading it as text skips a parse into ``date`` and a format back per row."""
        return type_coerce(day, String) if self.db.is_sqlite else func.to_char(day, "YYYY-MM-DD")

    def _in_order(self, day: SQLColumnExpression[Any], process_type: SQLColumnExpression[Any]) -> list[Any]:
        """Oldest day first, then process types in code point order (the JSON's and Python's):
        PostgreSQL's default collation may sort '_' otherwise."""
        return [day, process_type if self.db.is_sqlite else process_type.collate("C")]

    def _sum(self, value: ColumnElement[int]) -> ColumnElement[int]:
        """A sum as an int (PostgreSQL sums bigints as numeric, read as Decimal)."""
        return func.sum(value) if self.db.is_sqlite else cast(func.sum(value), BigInteger)


def _day_range(day: ColumnElement[object], first_day: datetime | None,
               end_day: datetime | None) -> list[ColumnElement[bool]]:
    bounds = []
    if first_day:
        bounds.append(day >= first_day.date())
    if end_day:
        bounds.append(day < end_day.date())
    return bounds


def _entries(parts: list[_Part]) -> list[str]:
    names = {part[1]: json.dumps(part[1]) for part in parts}  # a handful of process types, each escaped once
    return [f'{{"date":"{day}","process_type":{names[process_type]},"credits_used":"{_money(used)}",'
            f'"quantity":{quantity}}}' for day, process_type, used, quantity in parts]


def _money(cents: int) -> str:
    """Cents as the wire writes money: a decimal string with two places ("12.30")."""
    sign, cents = ("-", -cents) if cents < 0 else ("", cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"
