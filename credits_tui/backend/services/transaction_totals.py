"""A search window's totals: per-day aggregates for its whole days, raw rows for the rest."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import case, func, select, union_all
from sqlalchemy.orm import Session

from credits_tui.api_client.models import TransactionSummary, cents_to_decimal
from credits_tui.backend.db.schema import DailyTotal
from credits_tui.backend.services.transaction_filters import (
    _T,
    TransactionFilter,
    TransactionQueries,
    _AnySelect,
    _Resolved,
)


class TransactionTotals(TransactionQueries):
    def summary(self, account_id: int, filters: TransactionFilter) -> TransactionSummary:
        r = self._resolve(account_id, filters)
        with self._read() as session:
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


def _floor_day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(0), tzinfo=UTC)


def _ceil_day(moment: datetime) -> datetime:
    floor = _floor_day(moment)
    return floor if floor == moment else floor + timedelta(days=1)

