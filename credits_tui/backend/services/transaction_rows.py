"""A ledger row as the API shows it, page cursors, and the CSV export's lines."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Row

from credits_tui.api_client.models import Transaction, cents_to_decimal
from credits_tui.backend.db.schema import MAX_ID, User
from credits_tui.backend.errors import BadRequest
from credits_tui.formatting import spreadsheet_cell

_CURSOR_RE = re.compile(r"^v1:([0-9]{1,19})$")


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
    return Transaction.model_validate(transaction_fields(
        row, {"id": user.id, "name": user.name, "email": user.email} if user else None))


def transaction_fields(row: LedgerFields, user: dict[str, Any] | None) -> dict[str, Any]:
    # Plain fields, validated once by the model that holds them: for a page of rows that is
    # cheaper than building (or even constructing unvalidated) one model per row.
    return {"id": row.id, "created_at": row.created_at, "transaction_type": row.transaction_type,
            "process_type": row.process_type, "user": user, "amount": cents_to_decimal(row.amount_cents),
            "balance_after": cents_to_decimal(row.balance_after_cents), "description": row.description,
            "reference": row.reference}


def page_user(row: Row[Any]) -> dict[str, Any] | None:
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
    position = int(match.group(1)) if match else None
    if position is None or position > MAX_ID:  # 19 digits may overflow a 64-bit id
        raise invalid
    return position


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
