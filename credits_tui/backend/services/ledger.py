"""The append-only ledger: the one place where a balance changes.

Every change of balance is one ``transactions`` row written in the same database
transaction as the new balance and the day's totals (per user, and for usage also without the
user: the usage chart's rollup), with the account row locked by the caller (``lock_account``).
So the balance always equals the sum of the account's rows.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from credits_tui.api_client.models import TransactionType
from credits_tui.backend.db.schema import (
    Account,
    Base,
    DailyTotal,
    DailyUsageTotal,
    LedgerTransaction,
    User,
    table_of,
)

_WORD = re.compile(r"[^\W_]+")


def search_words(*parts: str | None) -> list[str]:
    """Lower-cased letter/digit runs: the one tokenisation of the index and of queries."""
    return [w for part in parts if part for w in _WORD.findall(part.lower())]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def append(
    session: Session,
    account: Account,
    *,
    transaction_type: TransactionType,
    amount_cents: int,
    description: str,
    user: User | None = None,
    process_type: str | None = None,
    process_label: str | None = None,
    quantity: int | None = None,
    reference: str | None = None,
    at: datetime | None = None,
) -> LedgerTransaction:
    """Record one change of balance on a locked account and return its row."""
    created_at = at or utc_now()
    if account.last_transaction_at is not None and created_at < account.last_transaction_at:
        created_at = account.last_transaction_at  # never back in time: id order is time order
    account.balance_cents += amount_cents
    account.last_transaction_at = created_at
    row = LedgerTransaction(
        account_id=account.id,
        created_at=created_at,
        transaction_type=transaction_type.value,
        process_type=process_type,
        user_id=user.id if user else None,
        quantity=quantity,
        amount_cents=amount_cents,
        balance_after_cents=account.balance_cents,
        description=description,
        reference=reference,
        search_text=" ".join(
            search_words(
                user.name if user else None,
                user.email if user else None,
                transaction_type.value,
                process_type,
                process_label,
                description,
                reference,
            )
        ),
    )
    session.add(row)
    session.flush()
    totals = DailyTotals()
    totals.add(account.id, created_at, row.transaction_type, process_type, row.user_id, amount_cents, quantity)
    totals.write(session)
    return row


_USAGE = TransactionType.usage.value


class DailyTotals:
    """Ledger rows folded into per-day aggregates, then upserted: one statement for the
    aggregates, one for the usage rollup folded from them (so ``add``, the seeding's per-row
    step, stays as cheap as it was)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[int, date, str, str, int], list[int]] = {}

    def add(self, account_id: int, created_at: datetime, transaction_type: str, process_type: str | None,
            user_id: int | None, amount_cents: int, quantity: int | None = None) -> None:
        key = (account_id, created_at.date(), transaction_type, process_type or "", user_id or 0)
        bucket = self._buckets.setdefault(key, [0, 0, 0, 0])
        bucket[0] += 1
        bucket[1] += max(amount_cents, 0)
        bucket[2] += max(-amount_cents, 0)
        bucket[3] += quantity or 0

    def write(self, session: Session) -> None:
        if not self._buckets:
            return
        values = [
            dict(account_id=k[0], day=k[1], transaction_type=k[2], process_type=k[3], user_id=k[4],
                 count=v[0], added_cents=v[1], used_cents=v[2], quantity=v[3])
            for k, v in self._buckets.items()
        ]
        usage: dict[tuple[int, date, str], list[int]] = {}
        for (account_id, day, transaction_type, process_type, _user), bucket in self._buckets.items():
            if transaction_type == _USAGE:
                folded = usage.setdefault((account_id, day, process_type), [0, 0])
                folded[0] += bucket[2]
                folded[1] += bucket[3]
        _add_to(session, DailyTotal, values)
        if usage:
            _add_to(session, DailyUsageTotal, [dict(account_id=k[0], day=k[1], process_type=k[2], used_cents=v[0],
                                                    quantity=v[1]) for k, v in usage.items()])
        self._buckets.clear()


def _add_to(session: Session, model: type[Base], values: list[dict[str, object]]) -> None:
    """Insert the aggregate rows, or add their sums to the rows already there (keyed by the
    primary key; every other column is a sum)."""
    table = table_of(model)
    insert = (sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert)(table)
    keys = [column.name for column in table.primary_key.columns]
    sums = {column.name: column + insert.excluded[column.name] for column in table.columns if column.name not in keys}
    session.execute(insert.on_conflict_do_update(index_elements=keys, set_=sums), values)


def ledger_sum(session: Session, account_id: int) -> int:
    """The sum of an account's transactions (for checks: it must equal the balance)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerTransaction.amount_cents), 0)).where(
            LedgerTransaction.account_id == account_id
        )
    )
    return int(total or 0)
