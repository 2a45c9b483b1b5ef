"""Auto-recharge (DESIGN.md §7): settings, validation, exactly one recharge per crossing under
concurrent debits (threads on one app; two worker processes on PostgreSQL), declines counted
and the rule turned off after three, and a dead worker's claim taken over without a second charge.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from credits_tui.api_client.models import TransactionType
from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database, lock_account
from credits_tui.backend.db.schema import (
    AutoRechargeAttempt,
    GatewayCharge,
)
from credits_tui.backend.services import ledger
from credits_tui.backend.services.ledger import utc_now
from credits_tui.backend.services.payments import TestGateway, reconcile
from tests.support import loopback_http, serve_asgi
from tests.support.backend import assert_ledger_invariant
from tests.support.processes import all_at_once, served
from tests.support.shop import ADMIN, MEMBER, SUPPORT, Shop, headers, make_shop, use

DECLINING_CARD = "4000000000000341"


@pytest.fixture
def shop(database: Database, demo_password_hash: str) -> Shop:
    return make_shop(database, demo_password_hash, balance_cents=60_00)


@pytest.fixture
def http(shop: Shop, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=shop.database), raise_server_exceptions=False) as client:
        yield client
    assert_ledger_invariant(shop.database)


def turn_on(http, auth, threshold: str = "50.00", recharge_to: str = "100.00") -> dict:
    response = http.put("/api/v1/billing/auto-recharge",
                        json={"enabled": True, "threshold": threshold, "recharge_to": recharge_to}, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


# --- settings -------------------------------------------------------------------------------------


def test_settings_round_trip_and_status_carries_the_same_object(http):
    admin = headers(http, ADMIN)
    assert http.get("/api/v1/billing/auto-recharge", headers=admin).json() == {
        "enabled": False, "threshold": None, "recharge_to": None, "last_failure": None, "consecutive_failures": 0}
    saved = turn_on(http, admin, "500.00", "2000.00")
    assert saved == {"enabled": True, "threshold": "500.00", "recharge_to": "2000.00", "last_failure": None,
                     "consecutive_failures": 0}
    assert http.get("/api/v1/account/status", headers=admin).json()["auto_recharge"] == saved
    off = http.put("/api/v1/billing/auto-recharge", json={"enabled": False}, headers=admin).json()
    assert off["enabled"] is False and off["threshold"] == "500.00"  # the amounts are kept for next time


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"enabled": True, "threshold": "50.00", "recharge_to": "50.00"}, "recharge_to_not_above_threshold",
     "recharge_to"),
    ({"enabled": True, "threshold": "50.00", "recharge_to": "20.00"}, "recharge_to_not_above_threshold",
     "recharge_to"),
    # One charge must reach recharge_to: at least the smallest charge above the threshold, and
    # no more than the largest purchase from an empty balance.
    ({"enabled": True, "threshold": "50.00", "recharge_to": "50.99"}, "recharge_to_not_above_threshold",
     "recharge_to"),
    ({"enabled": True, "threshold": "500.00", "recharge_to": "10000.01"}, "recharge_to_above_maximum",
     "recharge_to"),
    ({"enabled": True, "threshold": "9999999999990", "recharge_to": "9999999999999.99"},
     "recharge_to_above_maximum", "recharge_to"),
    ({"enabled": True, "threshold": "-1.00", "recharge_to": "20.00"}, "invalid_threshold", "threshold"),
    ({"enabled": True, "recharge_to": "20.00"}, "threshold_required", "threshold"),
    ({"enabled": True, "threshold": "5.00"}, "recharge_to_required", "recharge_to"),
])
def test_invalid_settings_are_422_with_the_field(http, body, code, field):
    admin = headers(http, ADMIN)
    before = http.get("/api/v1/billing/auto-recharge", headers=admin).json()
    response = http.put("/api/v1/billing/auto-recharge", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"] == field
    assert http.get("/api/v1/billing/auto-recharge", headers=admin).json() == before  # nothing saved


def test_the_widest_rule_one_charge_can_honour_is_taken(http):
    """From 1.00 above the threshold up to the largest purchase: every recharge then lands
    exactly on recharge_to, from any balance under the threshold."""
    admin = headers(http, ADMIN)
    assert turn_on(http, admin, "50.00", "51.00")["recharge_to"] == "51.00"
    assert turn_on(http, admin, "0.00", "10000.00")["recharge_to"] == "10000.00"


def test_a_rule_saved_before_the_bounds_can_still_be_turned_off(http, shop):
    """Turning off sends the amounts shown (the CLI and the app both do): a rule stored before
    the bounds, or past a maximum lowered since, is not held to them once it is off."""
    admin = headers(http, ADMIN)
    turn_on(http, admin, "100.00", "2000.00")
    with shop.database.write() as session:
        lock_account(session, shop.account_id).auto_recharge_to_cents = 50_000_00
    off = http.put("/api/v1/billing/auto-recharge",
                   json={"enabled": False, "threshold": "100.00", "recharge_to": "50000.00"}, headers=admin)
    assert off.status_code == 200, off.text
    assert off.json()["enabled"] is False
    on_again = http.put("/api/v1/billing/auto-recharge",
                        json={"enabled": True, "threshold": "100.00", "recharge_to": "50000.00"}, headers=admin)
    assert on_again.json()["error"]["code"] == "recharge_to_above_maximum"


def test_support_reads_but_cannot_change_and_member_cannot_read(http):
    support = headers(http, SUPPORT)
    assert http.get("/api/v1/billing/auto-recharge", headers=support).status_code == 200
    refused = http.put("/api/v1/billing/auto-recharge", json={"enabled": False}, headers=support)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_required"
    assert http.get("/api/v1/billing/auto-recharge", headers=headers(http, MEMBER)).status_code == 403


def test_turning_on_needs_a_card(database, demo_password_hash, settings):
    make_shop(database, demo_password_hash, balance_cents=10_00, card=False)
    with TestClient(create_app(settings, database=database), raise_server_exceptions=False) as http:
        admin = headers(http, ADMIN)
        response = http.put("/api/v1/billing/auto-recharge",
                            json={"enabled": True, "threshold": "5.00", "recharge_to": "20.00"}, headers=admin)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "card_required"
        assert http.get("/api/v1/billing/auto-recharge", headers=admin).json()["enabled"] is False


# --- the rule -----------------------------------------------------------------------------------------


def test_a_debit_below_the_threshold_recharges_to_the_target_once(http, shop):
    admin = headers(http, ADMIN)
    turn_on(http, admin, "50.00", "100.00")
    use(http, admin, quantity=8)  # 60.00 - 10.00 = 50.00: not below
    assert shop.recharges() == []
    use(http, admin, quantity=1)  # 48.75: below, recharged by 51.25 to 100.00
    [recharge] = shop.recharges()
    assert recharge.amount_cents == 51_25 and recharge.user_id is None
    assert "below 50.00" in recharge.description and "to 100.00" in recharge.description
    assert shop.balance() == 100_00
    use(http, admin, quantity=1)  # 98.75: above the threshold, nothing
    assert len(shop.recharges()) == 1
    assert shop.kinds() == ["purchase_receipt"]
    with shop.database.read() as session:
        assert reconcile(session) == []


def test_twenty_concurrent_debits_recharge_exactly_once(shop, settings):
    """20 debits of 1.25 at once from 60.00 across the 50.00 threshold: one crossing, one recharge."""
    with serve_asgi(create_app(settings, database=shop.database)) as base:
        admin = headers(loopback_http(base_url=base, timeout=30), ADMIN)
        turn_on(loopback_http(base_url=base, timeout=30), admin)
        responses = all_at_once(20, lambda client, i: client.post(
            f"{base}/api/v1/credits/usage", json={"process_type": "postcard", "quantity": 1}, headers=admin))
    assert [r.status_code for r in responses] == [201] * 20
    [recharge] = shop.recharges()
    # Topped up to 100.00 from the balance at the crossing, then the rest of the burst.
    assert 100_00 - 20 * 1_25 < shop.balance() < 100_00
    assert shop.balance() == 60_00 - 20 * 1_25 + recharge.amount_cents
    assert shop.count(AutoRechargeAttempt) == 1
    assert shop.kinds().count("purchase_receipt") == 1
    assert_ledger_invariant(shop.database)
    with shop.database.read() as session:
        assert reconcile(session) == []


def test_two_worker_processes_recharge_exactly_once(shop, database_kind, tmp_path):
    if database_kind != "postgresql":
        pytest.skip("several worker processes share a database on PostgreSQL")
    with served(shop.database, tmp_path / "serve.log", workers=2) as (base, _process):
        with loopback_http(base_url=base.removesuffix("/api/v1"), timeout=30) as http:
            admin = headers(http, ADMIN)
            turn_on(http, admin)
        responses = all_at_once(20, lambda client, i: client.post(
            f"{base}/credits/usage", json={"process_type": "postcard", "quantity": 1}, headers=admin))
    assert [r.status_code for r in responses] == [201] * 20
    [recharge] = shop.recharges()
    assert shop.balance() == 60_00 - 20 * 1_25 + recharge.amount_cents
    assert shop.count(GatewayCharge) == 1
    assert_ledger_invariant(shop.database)
    with shop.database.read() as session:
        assert reconcile(session) == []


def test_a_declining_card_counts_failures_and_turns_the_rule_off_after_three(http, shop):
    admin = headers(http, ADMIN)
    card = {"cardholder_name": "Ada Admin", "number": DECLINING_CARD, "exp_month": 12,
            "exp_year": datetime.now(timezone.utc).year + 2, "cvc": "123",
            "billing_address": {"line1": "1 Way", "city": "Chicago", "postal_code": "60601", "country": "US"}}
    assert http.put("/api/v1/billing/card", json=card, headers=admin).status_code == 200
    turn_on(http, admin, "59.00", "100.00")
    use(http, admin)  # 58.75: below, declined
    first = http.get("/api/v1/billing/auto-recharge", headers=admin).json()
    assert first["enabled"] is True and first["consecutive_failures"] == 1
    assert first["last_failure"]["code"] == "card_declined"
    assert first["last_failure"]["message"] == "Your card was declined."
    use(http, admin)  # tried again on the next debit below the threshold
    use(http, admin)
    off = http.get("/api/v1/account/status", headers=admin).json()["auto_recharge"]
    assert off["enabled"] is False and off["consecutive_failures"] == 3
    use(http, admin)  # off: not tried any more
    assert shop.recharges() == []
    assert shop.count(AutoRechargeAttempt) == 3
    assert shop.kinds() == ["auto_recharge_failed"] * 3 + ["auto_recharge_disabled"]
    assert shop.balance() == 60_00 - 4 * 1_25
    # Turned on again, it starts counting afresh.
    assert turn_on(http, admin, "59.00", "100.00")["consecutive_failures"] == 0


def test_a_dead_workers_claim_is_taken_over_and_its_charge_not_repeated(http, shop):
    """The worker died after claiming (and charging) and before recording: the next debit after
    the lease takes the claim over, the gateway hands back the first charge, one transaction."""
    admin = headers(http, ADMIN)
    turn_on(http, admin)
    with shop.database.write() as session:
        account = lock_account(session, shop.account_id)
        debit = ledger.append(session, account, transaction_type=TransactionType.usage, amount_cents=-11_00,
                              description="usage by the worker that died")
        key = f"auto_recharge:{shop.account_id}:{debit.id}"
        session.add(AutoRechargeAttempt(account_id=shop.account_id, key=key, amount_cents=51_00, state="pending",
                                        claimed_until=utc_now() + timedelta(seconds=30), created_at=utc_now()))
    first = TestGateway(shop.database).charge("tok_test_ok_demo", 51_00, idempotency_key=key)
    use(http, admin)  # the lease still holds: nothing happens
    assert shop.recharges() == []
    with shop.database.write() as session:
        session.execute(update(AutoRechargeAttempt).values(claimed_until=utc_now() - timedelta(seconds=1)))
    use(http, admin)  # takes over
    [recharge] = shop.recharges()
    assert recharge.reference == first.id and recharge.amount_cents == 51_00
    assert shop.count(GatewayCharge) == 1
    assert shop.balance() == 60_00 - 11_00 - 2 * 1_25 + 51_00
    with shop.database.read() as session:
        assert reconcile(session) == []
    assert Decimal(http.get("/api/v1/account/status", headers=admin).json()["purchase_credits"]) == Decimal("97.50")
