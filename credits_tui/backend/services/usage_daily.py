"""Where the credits go: usage per day and process type (DESIGN.md §9).

Answered from the per-day aggregates the ledger keeps (``transaction_daily_totals``): a
13-month window adds a few thousand aggregate rows, whatever the number of transactions.
Raw rows are read only for the partial first and last days of a window that does not start
or end at midnight UTC, the way the transaction summary does. Free text (``q``) has no
aggregates: it sums the matching rows the full-text index finds, so its cost grows with
the number of matches.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session

from credits_tui.api_client.models import TransactionType
from credits_tui.backend.db.schema import DailyTotal, LedgerTransaction
from credits_tui.backend.services.transactions import (
    TransactionFilter,
    TransactionService,
    _ceil_day,
    _floor_day,
    _Resolved,
)

_USAGE = TransactionType.usage.value
# (day, process type, credits used in cents, units)
_Part = tuple[date, str, int, int]


class UsageService(TransactionService):
    """The transaction filters, resolved as for the transaction list, summed per day."""

    def daily_json(self, account_id: int, filters: TransactionFilter) -> str:
        """The ``DailyUsage`` answer (api_client/models.py) as JSON, written directly: a 13-month
        answer has thousands of entries, and a pydantic model per entry cost more CPU than the
        query. The tests hold every answer against ``DailyUsage``."""
        r = self._resolve(account_id, filters)
        with self.db.read() as session:
            totals: dict[tuple[date, str], list[int]] = {}
            if not r.transaction_types or _USAGE in r.transaction_types:
                for day, process_type, used, quantity in self._parts(session, replace(r, transaction_types=(_USAGE,))):
                    bucket = totals.setdefault((day, process_type), [0, 0])
                    bucket[0] += used
                    bucket[1] += quantity
            if not totals:
                self._check_user(session, r)  # a stranger's email is an error, not "no usage"
        days = [{"date": day.isoformat(), "process_type": process_type, "credits_used": _money(used),
                 "quantity": quantity}
                for (day, process_type), (used, quantity) in sorted(totals.items())]
        return json.dumps({"days": days, "currency": "credits"}, separators=(",", ":"))

    def _parts(self, session: Session, r: _Resolved) -> Iterable[_Part]:
        if r.words:
            return self._raw_days(session, r, r.since, r.until)
        first_day = _ceil_day(r.since) if r.since else None
        end_day = _floor_day(r.until) if r.until else None
        if first_day and end_day and first_day > end_day:  # the window lies inside one day
            return self._raw_days(session, r, r.since, r.until)
        parts = list(self._aggregate_days(session, r, first_day, end_day))
        if r.since and first_day and r.since < first_day:
            parts += self._raw_days(session, r, r.since, first_day)
        if r.until and end_day and end_day < r.until:
            parts += self._raw_days(session, r, end_day, r.until)
        return parts

    @staticmethod
    def _aggregate_days(session: Session, r: _Resolved, first_day: datetime | None,
                        end_day: datetime | None) -> list[_Part]:
        D = DailyTotal
        conditions = [D.account_id == r.account_id, D.transaction_type == _USAGE]
        if first_day:
            conditions.append(D.day >= first_day.date())
        if end_day:
            conditions.append(D.day < end_day.date())
        if r.process_types:
            conditions.append(D.process_type.in_(r.process_types))
        if r.user is not None:
            conditions.append(D.user_id == TransactionService._user_id(r))
        rows = session.execute(
            select(D.day, D.process_type, func.sum(D.used_cents), func.sum(D.quantity))
            .where(*conditions).group_by(D.day, D.process_type)
        ).all()
        return [(day, process_type, int(used), int(quantity)) for day, process_type, used, quantity in rows]

    def _raw_days(self, session: Session, r: _Resolved, since: datetime | None,
                  until: datetime | None) -> list[_Part]:
        window = replace(r, since=since, until=until)
        T = LedgerTransaction
        # SQLite keeps times as ISO text, so its date() is the UTC day as 'YYYY-MM-DD'.
        day = func.date(T.created_at) if self.db.is_sqlite else cast(T.created_at, Date)
        statement, _ = self._select([day, T.process_type, func.sum(-T.amount_cents),
                                     func.sum(func.coalesce(T.quantity, 0))], window)
        rows = session.execute(statement.group_by(day, T.process_type)).all()
        return [(_as_date(moment), process_type or "", int(used), int(quantity))
                for moment, process_type, used, quantity in rows]


def _money(cents: int) -> str:
    """Cents as the wire writes money: a decimal string with two places ("12.30")."""
    sign, cents = ("-", -cents) if cents < 0 else ("", cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value
