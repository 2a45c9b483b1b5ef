"""Buying credits: POST /credits/purchases, exactly once per Idempotency-Key (DESIGN.md §2–§3)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from credits_tui.backend.db.schema import IdempotencyKey
from credits_tui.backend.services.ledger import utc_now
from tests.support.purchases import MONEY, balance, buy, card_goes_bad, counts, new_key, put_card


def test_purchase_adds_exactly_the_amount(api, admin):
    before = balance(admin)
    purchases_before, rows_before = counts(api)

    response = buy(admin, "25.00")

    assert response.status_code == 201, response.text
    assert "Idempotent-Replayed" not in response.headers
    body = response.json()
    assert body["purchase"]["amount"] == "25.00"
    assert body["purchase"]["charged_usd"] == "25.00"
    assert body["purchase"]["card_last4"] == "4242"
    transaction = body["transaction"]
    assert transaction["transaction_type"] == "purchase"
    assert transaction["amount"] == "25.00"
    assert transaction["process_type"] is None
    assert transaction["user"]["email"] == "admin@demo.example"
    assert Decimal(transaction["balance_after"]) == before + Decimal("25.00")
    assert Decimal(body["purchase_credits"]) == before + Decimal("25.00")
    assert MONEY.match(body["purchase_credits"])
    assert balance(admin) == before + Decimal("25.00")
    assert counts(api) == (purchases_before + 1, rows_before + 1)

    # The purchase is the newest transaction of the account.
    newest = admin.get("/credits/transactions", params={"limit": 1}).json()["items"][0]
    assert newest["id"] == transaction["id"]
    assert newest["amount"] == "25.00"


def test_odd_amount_is_exact(admin):
    before = balance(admin)
    response = buy(admin, "12.34")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["purchase"]["amount"] == "12.34"
    assert body["transaction"]["amount"] == "12.34"
    assert Decimal(body["purchase_credits"]) == before + Decimal("12.34")
    # Several odd amounts in a row never drift by a cent (no float anywhere).
    for amount in ("1.01", "3.33", "19.99"):
        response = buy(admin, amount)
        assert response.status_code == 201, response.text
        assert response.json()["transaction"]["amount"] == amount
    assert balance(admin) == before + Decimal("36.67")
    assert f"{balance(admin):.2f}" == admin.get("/credits/transactions", params={"limit": 1}).json()[
        "items"][0]["balance_after"]


def test_same_key_same_body_replays_and_adds_once(api, admin):
    before = balance(admin)
    purchases_before, _ = counts(api)
    key = new_key()

    first = buy(admin, "25.00", key)
    assert first.status_code == 201, first.text
    second = buy(admin, "25.00", key)
    third = buy(admin, "25", key)  # the same amount written differently is the same purchase

    for replay in (second, third):
        assert replay.status_code == 201, replay.text
        assert replay.headers.get("Idempotent-Replayed") == "true"
        assert replay.json() == first.json()
    assert balance(admin) == before + Decimal("25.00")
    assert counts(api)[0] == purchases_before + 1


def test_same_key_different_amount_is_refused(api, admin):
    before = balance(admin)
    key = new_key()
    assert buy(admin, "25.00", key).status_code == 201

    response = buy(admin, "26.00", key)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "idempotency_key_reuse"
    assert response.json()["error"]["message"]
    assert balance(admin) == before + Decimal("25.00")
    # A different key is a new purchase.
    assert buy(admin, "26.00").status_code == 201
    assert balance(admin) == before + Decimal("51.00")


def test_keys_are_per_account(admin, other_admin):
    """Another account's use of a key neither replays nor blocks this account's purchase."""
    put_card(other_admin, "4242424242424242")
    key = new_key()
    ours = buy(admin, "25.00", key)
    theirs = buy(other_admin, "30.00", key)
    assert ours.status_code == 201 and theirs.status_code == 201, theirs.text
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["purchase"]["amount"] == "30.00"
    assert theirs.json()["transaction"]["user"]["email"] == "other-admin@demo.example"


def test_key_in_progress_conflicts_then_a_stale_claim_is_taken_over(api, admin):
    before = balance(admin)
    # A completed purchase of the same amount gives the request fingerprint to copy.
    assert buy(admin, "25.00").status_code == 201
    before += Decimal("25.00")
    purchases_before, rows_before = counts(api)
    key = new_key()
    with api.database.write() as session:
        template = session.scalars(select(IdempotencyKey).order_by(IdempotencyKey.id.desc())).first()
        session.add(IdempotencyKey(account_id=template.account_id, key=key, request_hash=template.request_hash,
                                   state="in_progress", created_at=utc_now()))

    response = buy(admin, "25.00", key)

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "idempotency_in_progress"
    assert balance(admin) == before
    assert counts(api) == (purchases_before, rows_before)

    # The first attempt died 6 s ago, past its lease: a retry takes the claim over and lands once.
    with api.database.write() as session:
        session.execute(update(IdempotencyKey).where(IdempotencyKey.key == key)
                        .values(created_at=utc_now() - timedelta(seconds=6)))
    retried = buy(admin, "25.00", key)
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    again = buy(admin, "25.00", key)
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == retried.json()
    assert balance(admin) == before + Decimal("25.00")
    assert counts(api) == (purchases_before + 1, rows_before + 1)


@pytest.mark.parametrize("outcome, words", [
    ("declines_charges", "declined"),  # 4000000000000341: saves fine, declines every charge
    ("insufficient_funds", "insufficient funds"),
    ("expired_card", "expired"),
])
def test_declined_card_adds_nothing(api, admin, outcome, words):
    if outcome == "declines_charges":
        put_card(admin, "4000000000000341")
    else:
        card_goes_bad(api, outcome)
    before = balance(admin)
    purchases_before, rows_before = counts(api)
    key = new_key()

    response = buy(admin, "25.00", key)

    assert response.status_code == 402, response.text
    error = response.json()["error"]
    assert error["code"] == "card_declined"
    assert words in error["message"].lower()
    assert "no credits were added" in error["message"].lower()
    assert balance(admin) == before
    assert counts(api) == (purchases_before, rows_before)

    replay = buy(admin, "25.00", key)
    assert replay.status_code == 402
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == response.json()
    assert balance(admin) == before
    assert counts(api) == (purchases_before, rows_before)


def test_processing_error_can_be_retried_with_the_same_key(api, admin):
    card_goes_bad(api, "processing_error")
    before = balance(admin)
    purchases_before, rows_before = counts(api)
    key = new_key()

    response = buy(admin, "25.00", key)

    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "payment_processing_error"
    assert error["message"]
    assert "Idempotent-Replayed" not in response.headers
    assert balance(admin) == before
    assert counts(api) == (purchases_before, rows_before)

    put_card(admin, "4242424242424242")
    retried = buy(admin, "25.00", key)
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert retried.json()["purchase"]["card_last4"] == "4242"
    assert balance(admin) == before + Decimal("25.00")
    assert counts(api) == (purchases_before + 1, rows_before + 1)


def test_no_card_on_file_requires_a_card(api, other_admin):
    assert other_admin.get("/account/status").json()["card_on_file"] is None
    before = balance(other_admin)
    key = new_key()

    response = buy(other_admin, "25.00", key)

    assert response.status_code == 402, response.text
    assert response.json()["error"]["code"] == "card_required"
    assert balance(other_admin) == before
    assert counts(api, "Other Co.")[0] == 0
    # Once a card is added the same key goes through.
    put_card(other_admin, "4242424242424242")
    retried = buy(other_admin, "25.00", key)
    assert retried.status_code == 201, retried.text
    assert balance(other_admin) == before + Decimal("25.00")


def test_maximum_and_minimum_purchase(api, admin):
    before = balance(admin)
    at_max = buy(admin, "10000.00")
    assert at_max.status_code == 201, at_max.text
    assert at_max.json()["purchase"]["amount"] == "10000.00"

    above = buy(admin, "10000.01")
    assert above.status_code == 422, above.text
    assert above.json()["error"]["code"] == "amount_above_maximum"
    assert "10000.00" in above.json()["error"]["message"]

    below = buy(admin, "0.99")
    assert below.status_code == 422
    assert below.json()["error"]["code"] == "amount_below_minimum"
    assert buy(admin, "1.00").status_code == 201

    for bad, code in (("1.001", "amount_precision"), ("abc", "invalid_amount"), ("-5.00", "amount_below_minimum")):
        response = buy(admin, bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] == code
    float_amount = admin.post("/credits/purchases", json={"amount": 25.5}, headers={"Idempotency-Key": new_key()})
    assert float_amount.status_code == 422
    assert float_amount.json()["error"]["code"] == "invalid_amount"

    assert balance(admin) == before + Decimal("10001.00")


def test_purchase_needs_a_key_and_an_admin(admin, support, member, service):
    before = balance(admin)
    missing = admin.post("/credits/purchases", json={"amount": "25.00"})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "idempotency_key_required"
    for client in (support, member, service):
        response = buy(client, "25.00")
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "admin_required"
    assert balance(admin) == before
