"""The card check at save (DESIGN.md §7): PUT /billing/card asks the gateway for a zero
authorization first; a card that cannot pay is refused and the card on file stays."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from credits_tui.backend.db.schema import GatewayCharge
from tests.support.purchases import balance, buy, card_body, counts, new_key


def card_on_file(client) -> dict:
    response = client.get("/billing/card")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("number, status, code, field, words", [
    ("4000000000000002", 402, "card_declined", None, "declined"),
    ("4000000000009995", 402, "insufficient_funds", None, "insufficient funds"),
    ("4000000000000069", 422, "expired_card", "number", "expired"),
    ("4000000000000119", 502, "processing_error", None, "could not check"),
])
def test_a_card_that_cannot_pay_is_refused_and_the_old_card_stays(api, admin, number, status, code, field, words):
    before = card_on_file(admin)

    response = admin.put("/billing/card", json=card_body(number) | {"cardholder_name": "Someone Else"})

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert words in error["message"].lower()
    assert "not saved" in error["message"]
    assert number not in response.text
    assert card_on_file(admin) == before  # same number, name, date: nothing was kept
    assert admin.get("/account/status").json()["card_on_file"]["last4"] == "4242"
    # And the old card still pays.
    assert buy(admin, "3.00").status_code == 201


def test_a_refused_card_is_refused_for_a_first_card_too(api, other_admin):
    response = other_admin.put("/billing/card", json=card_body("4000000000000002"))

    assert response.status_code == 402
    assert other_admin.get("/billing/card").status_code == 404
    assert other_admin.get("/account/status").json()["card_on_file"] is None


def test_the_0341_card_saves_then_every_charge_is_declined(api, admin):
    response = admin.put("/billing/card", json=card_body("4000000000000341"))
    assert response.status_code == 200, response.text
    assert card_on_file(admin)["last4"] == "0341"
    before = balance(admin)
    rows_before = counts(api)
    with api.database.read() as session:
        charges_before = session.scalar(select(func.count()).select_from(GatewayCharge))

    for amount in ("5.00", "1.00"):
        declined = buy(admin, amount, new_key())
        assert declined.status_code == 402, declined.text
        assert declined.json()["error"]["code"] == "card_declined"

    assert balance(admin) == before
    assert counts(api) == rows_before
    with api.database.read() as session:
        assert session.scalar(select(func.count()).select_from(GatewayCharge)) == charges_before
    # A good card again, and buying works.
    assert admin.put("/billing/card", json=card_body("4242424242424242")).status_code == 200
    assert buy(admin, "5.00").status_code == 201
    assert balance(admin) == before + Decimal("5.00")
