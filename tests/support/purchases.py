"""Purchases through the API, and the database facts tests check them against."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from sqlalchemy import func, select, update

from credits_tui.backend.db.schema import Account, Card, LedgerTransaction, Purchase
from credits_tui.backend.services.ledger import utc_now

MONEY = re.compile(r"^-?\d+\.\d{2}$")


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


def balance(client) -> Decimal:
    response = client.get("/account/status")
    assert response.status_code == 200, response.text
    text = response.json()["purchase_credits"]
    assert MONEY.match(text), text
    return Decimal(text)


def buy(client, amount: str, key: str | None = None):
    return client.post("/credits/purchases", json={"amount": amount},
                       headers={"Idempotency-Key": key or new_key()})


def card_body(number: str) -> dict:
    return {
        "cardholder_name": "Ada Admin",
        "number": number,
        "exp_month": 12,
        "exp_year": utc_now().year + 2,
        "cvc": "123",
        "billing_address": {"line1": "1 Demo Way", "line2": None, "city": "Chicago", "region": "IL",
                            "postal_code": "60601", "country": "US"},
    }


def put_card(client, number: str) -> None:
    response = client.put("/billing/card", json=card_body(number))
    assert response.status_code == 200, response.text
    assert response.json()["last4"] == number[-4:]


def counts(api, account_name: str = "Demo Co.") -> tuple[int, int]:
    """(purchase rows, ledger rows) of an account, read straight from the database."""
    with api.database.read() as session:
        account_id = session.scalar(select(Account.id).where(Account.name == account_name))
        purchases = session.scalar(select(func.count()).select_from(Purchase).where(Purchase.account_id == account_id))
        rows = session.scalar(select(func.count()).select_from(LedgerTransaction)
                              .where(LedgerTransaction.account_id == account_id))
    return purchases, rows


def card_goes_bad(api, outcome: str, account_name: str = "Demo Co.") -> None:
    """The card on file starts failing after it was saved (funds run out, the card expires):
    the test gateway reads the outcome from the card's token."""
    with api.database.write() as session:
        account_id = session.scalar(select(Account.id).where(Account.name == account_name))
        session.execute(update(Card).where(Card.account_id == account_id)
                        .values(gateway_token=f"tok_test_{outcome}_0123456789abcdef"))
