"""The append-only ledger: the one place where a balance changes.

Every change of balance is one ``transactions`` row written in the same database
transaction as the new balance and the day's totals, with the account row locked by the
caller (``lock_account``). So the balance always equals the sum of the account's rows.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from credits_tui.api_client.models import TransactionType
from credits_tui.backend.db.schema import Account, DailyTotal, LedgerTransaction, User

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
    add_to_daily_totals(session, [row])
    return row


def add_to_daily_totals(session: Session, rows: list[LedgerTransaction]) -> None:
    """Fold ledger rows into the per-day aggregates (an upsert per day and kind)."""
    buckets: dict[tuple, list[int]] = {}
    for row in rows:
        key = (row.account_id, row.created_at.date(), row.transaction_type,
               row.process_type or "", row.user_id or 0)
        bucket = buckets.setdefault(key, [0, 0, 0])
        bucket[0] += 1
        bucket[1] += max(row.amount_cents, 0)
        bucket[2] += max(-row.amount_cents, 0)
    if not buckets:
        return
    values = [
        dict(account_id=k[0], day=k[1], transaction_type=k[2], process_type=k[3], user_id=k[4],
             count=v[0], added_cents=v[1], used_cents=v[2])
        for k, v in buckets.items()
    ]
    insert = (sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert)(DailyTotal)
    statement = insert.on_conflict_do_update(
        index_elements=["account_id", "day", "transaction_type", "process_type", "user_id"],
        set_={
            "count": DailyTotal.count + insert.excluded.count,
            "added_cents": DailyTotal.added_cents + insert.excluded.added_cents,
            "used_cents": DailyTotal.used_cents + insert.excluded.used_cents,
        },
    )
    session.execute(statement, values)


def ledger_sum(session: Session, account_id: int) -> int:
    """The sum of an account's transactions (for checks: it must equal the balance)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerTransaction.amount_cents), 0)).where(
            LedgerTransaction.account_id == account_id
        )
    )
    return int(total or 0)
