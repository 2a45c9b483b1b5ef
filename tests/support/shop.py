"""A small account of its own (Shop) for tests that change its settings and balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from credits_tui.api_client.models import Role, TransactionType
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import Account, LedgerTransaction, Notification
from credits_tui.backend.demo import DEMO_PASSWORD, DemoUser, add_test_card, create_account
from credits_tui.backend.services import ledger
from credits_tui.backend.services.ledger import utc_now

ADMIN = "admin@recharge.example"
SUPPORT = "support@recharge.example"
MEMBER = "member@recharge.example"


@dataclass
class Shop:
    database: Database
    account_id: int

    def balance(self) -> int:
        with self.database.read() as session:
            return session.get_one(Account, self.account_id).balance_cents

    def count(self, model, *where) -> int:
        with self.database.read() as session:
            return session.scalar(select(func.count()).select_from(model).where(*where))

    def recharges(self) -> list[LedgerTransaction]:
        with self.database.read() as session:
            return list(session.scalars(select(LedgerTransaction).where(
                LedgerTransaction.account_id == self.account_id,
                LedgerTransaction.transaction_type == TransactionType.auto_recharge.value)))

    def kinds(self) -> list[str]:
        with self.database.read() as session:
            return list(session.scalars(select(Notification.kind).where(Notification.account_id == self.account_id)
                                        .order_by(Notification.id)))


def make_shop(database: Database, password_hash: str, *, balance_cents: int, card: bool = True) -> Shop:
    with database.write() as session:
        account, _ = create_account(session, "Recharge Co.", (
            DemoUser(ADMIN, "Ada Admin", Role.admin), DemoUser(SUPPORT, "Sam Support", Role.support),
            DemoUser(MEMBER, "Max Member", Role.member)), password_hash)
        if card:
            add_test_card(session, account)
        ledger.append(session, account, transaction_type=TransactionType.adjustment, amount_cents=balance_cents,
                      description="Opening balance", at=utc_now() - timedelta(days=60))
        return Shop(database, account.id)


def headers(http, email: str) -> dict[str, str]:
    response = http.post("/api/v1/auth/tokens", json={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def use(http, auth, quantity: int = 1, process_type: str = "postcard") -> httpx.Response:
    response = http.post("/api/v1/credits/usage", json={"process_type": process_type, "quantity": quantity},
                         headers=auth)
    assert response.status_code == 201, response.text
    return response
