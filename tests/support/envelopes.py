"""The error envelope every refusal carries, and a snapshot to show a refusal changed nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from credits_tui.backend.db.schema import Account, Card, IdempotencyKey, LedgerTransaction, Purchase, QuotaUsage


def snapshot(database) -> tuple:
    with database.read() as session:
        return (
            tuple(session.execute(select(Account.id, Account.balance_cents).order_by(Account.id)).all()),
            session.scalar(select(func.count()).select_from(LedgerTransaction)),
            session.scalar(select(func.count()).select_from(LedgerTransaction)
                           .where(LedgerTransaction.transaction_type == "purchase")),
            session.scalar(select(func.count()).select_from(Purchase)),
            session.scalar(select(func.count()).select_from(IdempotencyKey)),
            session.scalar(select(func.coalesce(func.sum(QuotaUsage.used), 0))),
            tuple(tuple(getattr(card, c.key) for c in Card.__table__.columns)
                  for card in session.scalars(select(Card).order_by(Card.account_id)).all()),
        )


def assert_envelope(response, status: int | tuple[int, ...], code: str | set[str] | None = None,
                    field: str | type[Ellipsis] | None = ...) -> dict:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.text[:500]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "field"}, error
    assert error["message"].strip()
    assert not error["message"].endswith(".."), error  # a sentence, ended once
    if isinstance(code, set):
        assert error["code"] in code, error
    elif code is not None:
        assert error["code"] == code, error
    if field is not ...:
        assert error["field"] == field, error
    return error
