"""Alerts and the outbox (DESIGN.md §7): settings and their checks, each event written once per
occurrence to every recipient, and the newest-first keyset-paged list."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from credits_tui.api_client.models import Role, TransactionType
from credits_tui.backend.api.app import create_app
from credits_tui.backend.db.engine import lock_account
from credits_tui.backend.db.schema import Account, Card, LedgerTransaction, Notification, User
from credits_tui.backend.demo import DemoUser, create_account
from credits_tui.backend.services import ledger
from credits_tui.backend.services.auto_recharge import auto_recharge_model
from credits_tui.backend.services.invoicing import InvoicingService, previous_period
from credits_tui.backend.services.notifications import card_expiring_check
from credits_tui.backend.services.payments import TestGateway
from tests.support.shop import ADMIN, MEMBER, SUPPORT, Shop, headers, make_shop, use


@pytest.fixture
def shop(database, demo_password_hash) -> Shop:
    return make_shop(database, demo_password_hash, balance_cents=60_00)


@pytest.fixture
def http(shop, settings):
    with TestClient(create_app(settings, database=shop.database), raise_server_exceptions=False) as client:
        yield client


def user_ids(shop: Shop) -> dict[str, int]:
    with shop.database.read() as session:
        return dict(session.execute(select(User.email, User.id).where(User.account_id == shop.account_id)).all())


def listed(http, auth, **params) -> dict:
    response = http.get("/api/v1/account/notifications", params=params, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def test_settings_default_to_the_admins_and_take_users_of_the_account_only(http, shop, database,
                                                                           demo_password_hash):
    admin, ids = headers(http, ADMIN), user_ids(shop)
    assert http.get("/api/v1/billing/notifications", headers=admin).json() == {
        "low_balance_threshold": None, "recipients": [ids[ADMIN]]}
    saved = http.put("/api/v1/billing/notifications", headers=admin,
                     json={"low_balance_threshold": "55.00", "recipients": [ids[ADMIN], ids[SUPPORT]]})
    assert saved.json() == {"low_balance_threshold": "55.00", "recipients": [ids[ADMIN], ids[SUPPORT]]}
    with database.write() as session:
        _, [stranger] = create_account(session, "Elsewhere Co.", (DemoUser("x@else.example", "X", Role.admin),),
                                       demo_password_hash)
        stranger_id = stranger.id
    refused = http.put("/api/v1/billing/notifications", headers=admin,
                       json={"low_balance_threshold": None, "recipients": [stranger_id]})
    assert refused.status_code == 422
    assert refused.json()["error"] | {"message": ""} == {"code": "unknown_recipient", "field": "recipients",
                                                         "message": ""}
    support = headers(http, SUPPORT)
    assert http.get("/api/v1/billing/notifications", headers=support).status_code == 200
    assert http.put("/api/v1/billing/notifications", headers=support,
                    json={"recipients": []}).json()["error"]["code"] == "admin_required"
    assert http.get("/api/v1/account/notifications", headers=headers(http, MEMBER)).status_code == 403


def test_low_balance_once_per_crossing_and_armed_again_above(http, shop):
    admin, ids = headers(http, ADMIN), user_ids(shop)
    http.put("/api/v1/billing/notifications", headers=admin,
             json={"low_balance_threshold": "55.00", "recipients": [ids[ADMIN], ids[SUPPORT]]})
    use(http, admin, quantity=4)  # 55.00: not below
    assert shop.kinds() == []
    use(http, admin)  # 53.75: crossed
    use(http, admin)  # still below: no second alert
    assert shop.kinds() == ["low_balance"]
    bought = http.post("/api/v1/credits/purchases", json={"amount": "10.00"},
                       headers=admin | {"Idempotency-Key": "rise-above"})
    assert bought.status_code == 201  # 62.50: armed again
    use(http, admin, quantity=6)  # 55.00
    use(http, admin)  # 53.75: crossed again
    assert shop.kinds() == ["low_balance", "purchase_receipt", "low_balance"]
    newest = listed(http, headers(http, SUPPORT))["items"][0]
    assert newest["kind"] == "low_balance"
    assert newest["recipients"] == [ADMIN, SUPPORT]
    assert "53.75 credits" in newest["body"] and "55.00 credits" in newest["body"]
    assert newest["subject"] == "Recharge Co.: Purchase Credits balance is low"
    assert newest["delivered_at"] is None  # no SMTP server: the outbox is the record


def test_the_list_is_newest_first_and_keyset_paged(http, shop):
    admin = headers(http, ADMIN)
    for i in range(5):
        assert http.post("/api/v1/credits/purchases", json={"amount": f"{i + 1}.00"},
                         headers=admin | {"Idempotency-Key": f"page-{i}"}).status_code == 201
    first = listed(http, admin, limit=2)
    second = listed(http, admin, limit=2, cursor=first["next_cursor"])
    third = listed(http, admin, limit=2, cursor=second["next_cursor"])
    subjects = [n["subject"] for page in (first, second, third) for n in page["items"]]
    assert subjects == [f"Recharge Co.: Receipt: purchase of {i}.00 credits" for i in (5, 4, 3, 2, 1)]
    assert third["next_cursor"] is None
    assert http.get("/api/v1/account/notifications", params={"cursor": "%%%"},
                    headers=admin).status_code == 400


def test_invoice_paid_and_failed_are_notified(shop, settings):
    last_month = datetime.now(timezone.utc).replace(day=1) - timedelta(days=3)
    with shop.database.write() as session:
        account = lock_account(session, shop.account_id)
        ledger.append(session, account, transaction_type=TransactionType.usage, amount_cents=-70_00,
                      process_type="premium_audio_transcription", quantity=280, description="transcription",
                      at=last_month)
        session.get_one(Card, shop.account_id).gateway_token = "tok_test_declines_charges_x"
    invoicing = InvoicingService(shop.database, settings, TestGateway(shop.database))
    invoicing.close_month(previous_period(datetime.now(timezone.utc)))
    assert shop.kinds() == ["invoice_failed"]
    with shop.database.write() as session:
        session.get_one(Card, shop.account_id).gateway_token = "tok_test_ok_x"
    invoicing.close_month(previous_period(datetime.now(timezone.utc)))
    assert shop.kinds() == ["invoice_failed", "invoice_paid"]


def test_card_expiring_is_told_once_per_card(shop):
    now = datetime(2027, 3, 10, tzinfo=timezone.utc)
    with shop.database.write() as session:
        card = session.get_one(Card, shop.account_id)
        card.exp_month, card.exp_year = 4, 2027  # ends 2027-05-01: 52 days away
    assert card_expiring_check(shop.database, now) == 0
    assert card_expiring_check(shop.database, now + timedelta(days=22)) == 1  # 30 days before
    assert card_expiring_check(shop.database, now + timedelta(days=23)) == 0  # once
    with shop.database.write() as session:
        session.get_one(Card, shop.account_id).gateway_token = "tok_test_ok_new_card"
    assert card_expiring_check(shop.database, now + timedelta(days=24)) == 1  # another card, same expiry
    assert shop.kinds() == ["card_expiring", "card_expiring"]


def test_the_demo_history_matches_its_ledger(seeded):
    """The demo (seed_notifications): a receipt per purchase and auto-recharge, a paid notice per
    invoice payment, and the settings of DESIGN.md §5 (auto-recharge below 500 → 2,000)."""
    with seeded.read() as session:
        account = session.scalars(select(Account).where(Account.name == "Demo Co.")).one()

        def count(*types: str) -> int:
            return session.scalar(select(func.count()).select_from(LedgerTransaction).where(
                LedgerTransaction.account_id == account.id, LedgerTransaction.transaction_type.in_(types))) or 0

        charged, invoices_paid = count("purchase", "auto_recharge"), count("invoice_payment")
        kinds = list(session.scalars(select(Notification.kind).where(Notification.account_id == account.id)))
        rule = auto_recharge_model(account)
    assert kinds.count("purchase_receipt") == charged > 0
    assert kinds.count("invoice_paid") == invoices_paid > 0
    assert (rule.enabled, rule.threshold, rule.recharge_to) == (True, Decimal("500.00"), Decimal("2000.00"))
