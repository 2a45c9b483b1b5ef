"""The append-only ledger: the one place where a balance changes.

Every change of balance is one ``transactions`` row written in the same database
transaction as the new balance and the day's totals (per user, and for usage also without the
user: the usage chart's rollup), with the account row locked: by the caller (``lock_account``,
then ``append``) or by the balance's own ``UPDATE`` (``post``).
So the balance always equals the sum of the account's rows.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Protocol

from sqlalchemy import BigInteger, Insert, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from credits_tui.api_client.models import TransactionType
from credits_tui.backend.db.schema import (
    Account,
    Base,
    DailyTotal,
    DailyUsageTotal,
    LedgerTransaction,
    table_of,
)

_WORD = re.compile(r"[^\W_]+")
_ACCENTS = re.compile("[\u0300-\u036f]+")
# Latin letters that are a base letter with a stroke or a ligature but have no decomposition to
# drop an accent from: "orsted" finds "Ørsted", "lodz" "Łódź", "aero" "Ærø". (Case-folded already.)
_LATIN_BASES = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t", "ƶ": "z", "ı": "i",
                              "æ": "ae", "œ": "oe", "þ": "th"})


def search_words(*parts: str | None) -> list[str]:
    """Folded letter/digit runs: the one tokenisation of the index and of queries."""
    return [w for part in parts if part for w in _WORD.findall(fold(part))]


def fold(text: str) -> str:
    """``text`` as a search compares it: without case or accents.

    Case-folded, not lower-cased, so that a final sigma is a sigma ("ΛΟΓΟΣ" finds "λόγος") and
    "WEISS" finds "Weiß". Accents are dropped, so "cafe" finds "Café" on PostgreSQL as it always
    did on SQLite (whose FTS5 tokenizer drops them itself), and "ΛΟΓΟΣ", typed without the tonos
    as Greek capitals are, finds "λόγος"; strokes and ligatures go the same way ("lodz" finds
    "Łódź", "aero" "Ærø"). Accents are the Latin, Greek and Cyrillic ones
    (U+0300–U+036F) that a canonical decomposition splits off: marks that tell letters apart in
    other scripts, such as Japanese dakuten, stay. Lower-cased last: case folding makes Cherokee
    capitals, and PostgreSQL lower-cases the words it stores. Both databases then compare these
    words as they are.

    Every stored row's words were folded by this: a change here needs a migration that folds
    them again (as 0009 does, with the fold of the day it runs).
    """
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return unicodedata.normalize("NFC", _ACCENTS.sub("", decomposed)).lower().translate(_LATIN_BASES)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Author(Protocol):
    """The user a row is by: a ``User`` row, or the signed-in user's ``UserRef``."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def email(self) -> str: ...


@dataclass  # not frozen: transaction_model's protocol declares plain attributes
class Entry:
    """A ledger row as ``post`` wrote it (the fields ``transaction_model`` reads)."""

    id: int
    created_at: datetime
    transaction_type: str
    process_type: str | None
    amount_cents: int
    balance_after_cents: int
    description: str
    reference: str | None


def _row_values(account_id: int, created_at: datetime, balance_after_cents: int, *,
                transaction_type: TransactionType, amount_cents: int, description: str, user: Author | None,
                process_type: str | None, process_label: str | None, quantity: int | None,
                reference: str | None) -> dict[str, Any]:
    """The columns of one ledger row, its search words included."""
    return dict(
        account_id=account_id,
        created_at=created_at,
        transaction_type=transaction_type.value,
        process_type=process_type,
        user_id=user.id if user else None,
        quantity=quantity,
        amount_cents=amount_cents,
        balance_after_cents=balance_after_cents,
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


def _add_to_totals(session: Session, values: dict[str, Any]) -> None:
    totals = DailyTotals()
    totals.add(values["account_id"], values["created_at"], values["transaction_type"], values["process_type"],
               values["user_id"], values["amount_cents"], values["quantity"])
    totals.write(session)


def append(
    session: Session,
    account: Account,
    *,
    transaction_type: TransactionType,
    amount_cents: int,
    description: str,
    user: Author | None = None,
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
    values = _row_values(account.id, created_at, account.balance_cents, transaction_type=transaction_type,
                         amount_cents=amount_cents, description=description, user=user,
                         process_type=process_type, process_label=process_label, quantity=quantity,
                         reference=reference)
    row = LedgerTransaction(**values)
    session.add(row)
    session.flush()
    _add_to_totals(session, values)
    return row


@dataclass(frozen=True)
class AccountAfter:
    """An account as ``post`` left it: what the event's notifications read."""

    id: int
    name: str
    balance_cents: int
    alert_recipient_ids: str | None


_accounts = table_of(Account)
_ledger = table_of(LedgerTransaction)
_at = bindparam("at", type_=_accounts.c.last_transaction_at.type)
# Built once: a statement made per call costs more to build and to key for the compiled
# cache than it does to run.
_MOVE_BALANCE = (
    update(_accounts).where(_accounts.c.id == bindparam("account"))
    .values(balance_cents=_accounts.c.balance_cents + bindparam("amount", type_=BigInteger()),
            # never back in time: id order is time order
            last_transaction_at=case((_accounts.c.last_transaction_at > _at, _accounts.c.last_transaction_at),
                                     else_=_at))
    .returning(_accounts.c.id, _accounts.c.name, _accounts.c.balance_cents, _accounts.c.alert_recipient_ids,
               _accounts.c.last_transaction_at)
)
_INSERT_ROW = _ledger.insert().returning(_ledger.c.id)


def post(
    session: Session,
    account_id: int,
    *,
    transaction_type: TransactionType,
    amount_cents: int,
    description: str,
    user: Author | None = None,
    reference: str | None = None,
) -> tuple[Entry, AccountAfter]:
    """``append`` for an account not read yet: the row, and the account as it is after it.

    The balance moves in one ``UPDATE ... RETURNING``, which locks the account row until the
    unit of work ends (PostgreSQL; SQLite's write units of work are serialised anyway), so
    there is no read-then-write to lose an update between, and no statement to lock first.
    """
    moved = session.execute(_MOVE_BALANCE, {"account": account_id, "amount": amount_cents, "at": utc_now()}).one()
    account = AccountAfter(moved.id, moved.name, moved.balance_cents, moved.alert_recipient_ids)
    created_at: datetime = moved.last_transaction_at
    values = _row_values(account_id, created_at, account.balance_cents, transaction_type=transaction_type,
                         amount_cents=amount_cents, description=description, user=user, process_type=None,
                         process_label=None, quantity=None, reference=reference)
    row_id: int = session.execute(_INSERT_ROW, values).scalar_one()
    _add_to_totals(session, values)
    return Entry(id=row_id, created_at=created_at, transaction_type=values["transaction_type"], process_type=None,
                 amount_cents=amount_cents, balance_after_cents=account.balance_cents, description=description,
                 reference=reference), account


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
        dialect = session.get_bind().dialect.name
        session.execute(_upsert(dialect, DailyTotal), values)
        if usage:
            session.execute(_upsert(dialect, DailyUsageTotal), [
                dict(account_id=k[0], day=k[1], process_type=k[2], used_cents=v[0], quantity=v[1])
                for k, v in usage.items()])
        self._buckets.clear()


@functools.cache
def _upsert(dialect: str, model: type[Base]) -> Insert:
    """Insert aggregate rows, or add their sums to the rows already there (keyed by the primary
    key; every other column is a sum). Built once per dialect and table: see _MOVE_BALANCE."""
    table = table_of(model)
    insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
    keys = [column.name for column in table.primary_key.columns]
    sums = {column.name: column + insert.excluded[column.name] for column in table.columns if column.name not in keys}
    return insert.on_conflict_do_update(index_elements=keys, set_=sums)


def ledger_sum(session: Session, account_id: int) -> int:
    """The sum of an account's transactions (for checks: it must equal the balance)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerTransaction.amount_cents), 0)).where(
            LedgerTransaction.account_id == account_id
        )
    )
    return int(total or 0)
