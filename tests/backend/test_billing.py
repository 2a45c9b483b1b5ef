"""The card on file: its summary, adding/replacing, editing, the refusal to remove, invoices."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.schema import Card

NOW = datetime.now(timezone.utc)
LAST_MONTH = (NOW.month - 1, NOW.year) if NOW.month > 1 else (12, NOW.year - 1)
NUMBER = "4242424242424242"
CVC = "9731"
SUMMARY_FIELDS = {"brand", "last4", "exp_month", "exp_year", "cardholder_name", "billing_address", "updated_at"}


def card(**changes) -> dict:
    body = {
        "cardholder_name": "Ada Lovelace",
        "number": NUMBER,
        "exp_month": 9,
        "exp_year": NOW.year + 3,
        "cvc": CVC,
        "billing_address": {"line1": "12 Analytical Row", "line2": "Suite 3", "city": "London",
                            "region": "Greater London", "postal_code": "NW1 6XE", "country": "GB"},
    }
    for key, value in changes.items():
        if key.startswith("address_"):
            name = key.removeprefix("address_")
            if value is DROP:
                del body["billing_address"][name]
            else:
                body["billing_address"][name] = value
        elif value is DROP:
            del body[key]
        else:
            body[key] = value
    return body


DROP = object()


def keys_anywhere(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_anywhere(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_anywhere(v)}
    return set()


def stored_card_values(database, account_id: int) -> list[str]:
    with database.read() as session:
        row = session.get(Card, account_id)
        return [str(getattr(row, column.key)) for column in Card.__table__.columns]


@pytest.fixture
def admin(module_api):
    return module_api.signed("admin@demo.example")


@pytest.fixture
def support(module_api):
    return module_api.signed("support@demo.example")


@pytest.fixture
def other_admin(module_api):
    return module_api.signed("other-admin@demo.example")


def current_card(client) -> dict:
    response = client.get("/billing/card")
    assert response.status_code == 200, response.text
    return response.json()


# --- reading the card -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "support"])
def test_card_summary_has_no_number_or_cvc(module_api, request, who):
    client = request.getfixturevalue(who)
    summary = current_card(client)
    assert set(summary) == SUMMARY_FIELDS
    assert not keys_anywhere(summary) & {"number", "cvc", "card_number", "pan", "gateway_token"}
    assert len(summary["last4"]) == 4 and summary["last4"].isdigit()
    assert 1 <= summary["exp_month"] <= 12
    assert set(summary["billing_address"]) >= {"line1", "city", "postal_code", "country"}
    # The status screen shows the same card.
    assert client.get("/account/status").json()["card_on_file"] == summary


# --- adding or replacing a card -------------------------------------------------------------


@pytest.mark.parametrize(("number", "name"), [("4242424242424242", "Plain Digits"),
                                              ("4242 4242 4242 4242", "With Spaces"),
                                              ("4242-4242-4242-4242", "With Dashes"),
                                              (" 4242 4242-4242 4242 ", "Mixed Separators")])
def test_put_a_card(module_api, admin, number, name):
    response = admin.put("/billing/card", json=card(number=number, cardholder_name=name))
    assert response.status_code == 200, response.text
    summary = response.json()
    assert set(summary) == SUMMARY_FIELDS
    assert summary["brand"] == "visa"
    assert summary["last4"] == "4242"
    assert summary["cardholder_name"] == name
    assert (summary["exp_month"], summary["exp_year"]) == (9, NOW.year + 3)
    assert summary["billing_address"]["city"] == "London"
    assert summary["billing_address"]["postal_code"] == "NW1 6XE"
    assert summary["billing_address"]["country"] == "GB"
    assert NUMBER not in response.text and f'"{CVC}"' not in response.text
    assert current_card(admin) == summary

    account_id = admin.get("/me").json()["account"]["id"]
    for value in stored_card_values(module_api.database, account_id):
        assert NUMBER not in value.replace(" ", "").replace("-", "")
        assert value != CVC


def test_put_another_brand_replaces_the_card(admin):
    response = admin.put("/billing/card", json=card(number="5555 5555 5555 4444", cvc="123"))
    assert response.status_code == 200, response.text
    assert (response.json()["brand"], response.json()["last4"]) == ("mastercard", "4444")
    assert current_card(admin)["last4"] == "4444"
    # And back to the demo card, for whoever reads it next.
    assert admin.put("/billing/card", json=card()).json()["last4"] == "4242"


def test_a_card_good_through_this_month_is_accepted(admin):
    response = admin.put("/billing/card", json=card(exp_month=NOW.month, exp_year=NOW.year))
    assert response.status_code == 200, response.text
    assert (response.json()["exp_month"], response.json()["exp_year"]) == (NOW.month, NOW.year)


REFUSED_PUTS = {
    # name: (changes, code or None for "any invalid_* code", field)
    "bad Luhn": (dict(number="4242424242424241"), "invalid_card_number", "number"),
    "bad Luhn with spaces": (dict(number="4242 4242 4242 4241"), "invalid_card_number", "number"),
    "letters in the number": (dict(number="4242abcd42424242"), "invalid_card_number", "number"),
    "20 digits": (dict(number="42424242424242424242"), "invalid_card_number", "number"),
    "too short": (dict(number="4242 4242"), "invalid_card_number", "number"),
    "30 digits": (dict(number="4" * 30), "invalid_card_number", "number"),
    "number missing": (dict(number=DROP), "field_required", "number"),
    "expired last month": (dict(exp_month=LAST_MONTH[0], exp_year=LAST_MONTH[1]), "card_expired",
                           "exp_month" if LAST_MONTH[1] == NOW.year else "exp_year"),
    "expired last year": (dict(exp_month=12, exp_year=NOW.year - 1), "card_expired", "exp_year"),
    "month 13": (dict(exp_month=13), None, "exp_month"),
    "month 0": (dict(exp_month=0), None, "exp_month"),
    "year as text": (dict(exp_year="next"), None, "exp_year"),
    "CVC of 2 digits": (dict(cvc="12"), None, "cvc"),
    "CVC of 5 digits": (dict(cvc="12345"), None, "cvc"),
    "CVC of letters": (dict(cvc="abc"), None, "cvc"),
    "CVC mixed": (dict(cvc="12a"), None, "cvc"),
    "CVC empty": (dict(cvc=""), None, "cvc"),
    "CVC missing": (dict(cvc=DROP), "field_required", "cvc"),
    "name blank": (dict(cardholder_name="   "), None, "cardholder_name"),
    "name missing": (dict(cardholder_name=DROP), "field_required", "cardholder_name"),
    "address missing": (dict(billing_address=DROP), "field_required", "billing_address"),
    "country of 3 letters": (dict(address_country="GBR"), None, "billing_address.country"),
    "country of 1 letter": (dict(address_country="G"), None, "billing_address.country"),
    "country with a digit": (dict(address_country="G1"), None, "billing_address.country"),
    "unknown field": (dict(pin="1234"), "unknown_field", "pin"),
    **{f"{name} missing": (dict(**{f"address_{name}": DROP}), "field_required", f"billing_address.{name}")
       for name in ("line1", "city", "postal_code", "country")},
    **{f"{name} empty": (dict(**{f"address_{name}": ""}), None, f"billing_address.{name}")
       for name in ("line1", "city", "postal_code", "country")},
    **{f"{name} blank": (dict(**{f"address_{name}": "   "}), None, f"billing_address.{name}")
       for name in ("line1", "city", "postal_code", "country")},
}


@pytest.mark.parametrize(("changes", "code", "field"), list(REFUSED_PUTS.values()), ids=list(REFUSED_PUTS))
def test_refused_put_leaves_the_card_as_it_was(admin, changes, code, field):
    before = current_card(admin)
    response = admin.put("/billing/card", json=card(**changes))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    if code is None:
        assert error["code"].startswith("invalid_"), error
    else:
        assert error["code"] == code, error
    assert error["message"].strip()
    assert NUMBER not in response.text and "4242424242424241" not in response.text
    assert current_card(admin) == before


# --- editing the card -----------------------------------------------------------------------


def test_patch_the_name_only(admin):
    before = current_card(admin)
    response = admin.patch("/billing/card", json={"cardholder_name": "Augusta Ada King"})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["cardholder_name"] == "Augusta Ada King"
    for unchanged in ("brand", "last4", "exp_month", "exp_year", "billing_address"):
        assert after[unchanged] == before[unchanged], unchanged
    assert after["updated_at"] >= before["updated_at"]
    assert current_card(admin) == after


def test_patch_the_expiry_only(admin):
    before = current_card(admin)
    response = admin.patch("/billing/card", json={"exp_month": 3, "exp_year": NOW.year + 5})
    assert response.status_code == 200, response.text
    after = response.json()
    assert (after["exp_month"], after["exp_year"]) == (3, NOW.year + 5)
    for unchanged in ("brand", "last4", "cardholder_name", "billing_address"):
        assert after[unchanged] == before[unchanged], unchanged
    assert current_card(admin) == after


def test_patch_the_billing_address_only(admin):
    before = current_card(admin)
    address = {"line1": "1 Infinite Loop", "city": "Cupertino", "region": "CA", "postal_code": "95014",
               "country": "US"}
    response = admin.patch("/billing/card", json={"billing_address": address})
    assert response.status_code == 200, response.text
    after = response.json()
    for key, value in address.items():
        assert after["billing_address"][key] == value
    assert not after["billing_address"].get("line2")
    for unchanged in ("brand", "last4", "cardholder_name", "exp_month", "exp_year"):
        assert after[unchanged] == before[unchanged], unchanged
    assert current_card(admin) == after


REFUSED_PATCHES = {
    "expired last year": ({"exp_month": 12, "exp_year": NOW.year - 1}, "card_expired", "exp_year"),
    "expired last month": ({"exp_month": LAST_MONTH[0], "exp_year": LAST_MONTH[1]}, "card_expired",
                           "exp_month" if LAST_MONTH[1] == NOW.year else "exp_year"),
    "month 13": ({"exp_month": 13}, None, "exp_month"),
    "a new number": ({"number": NUMBER}, "unknown_field", "number"),
    "a CVC": ({"cvc": CVC}, "unknown_field", "cvc"),
    "blank name": ({"cardholder_name": "  "}, None, "cardholder_name"),
    "address without city": ({"billing_address": {"line1": "x", "postal_code": "1", "country": "US"}},
                             "field_required", "billing_address.city"),
    "address with a bad country": ({"billing_address": {"line1": "x", "city": "y", "postal_code": "1",
                                                        "country": "USA"}}, None, "billing_address.country"),
}


@pytest.mark.parametrize(("body", "code", "field"), list(REFUSED_PATCHES.values()), ids=list(REFUSED_PATCHES))
def test_refused_patch_leaves_the_card_as_it_was(admin, body, code, field):
    before = current_card(admin)
    response = admin.patch("/billing/card", json=copy.deepcopy(body))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    if code is None:
        assert error["code"].startswith("invalid_"), error
    else:
        assert error["code"] == code, error
    assert current_card(admin) == before


def test_without_a_card_there_is_nothing_to_read_or_edit(other_admin):
    response = other_admin.get("/billing/card")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "no_card_on_file"
    response = other_admin.patch("/billing/card", json={"cardholder_name": "Olga Other"})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "no_card_on_file"
    assert other_admin.get("/account/status").json()["card_on_file"] is None


# --- removing the card ----------------------------------------------------------------------


def test_removing_the_card_needs_accounting(admin):
    before = current_card(admin)
    response = admin.delete("/billing/card")
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "card_removal_requires_accounting"
    assert "accounting@leadliaison.com" in error["message"]
    assert current_card(admin) == before


def test_the_accounting_address_is_configurable(module_api):
    settings = Settings(database_url=module_api.database.url, accounting_email="books@example.test")
    app = create_app(settings, database=module_api.database)
    with TestClient(app, raise_server_exceptions=False) as client:
        token = client.post("/api/v1/auth/tokens", json={"email": "admin@demo.example",
                                                          "password": "demo-password"}).json()["token"]
        response = client.delete("/api/v1/billing/card", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 409
    assert "books@example.test" in response.json()["error"]["message"]
    assert "accounting@leadliaison.com" not in response.json()["error"]["message"]


# --- invoices -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "support"])
def test_viewers_see_the_demos_paid_invoices_one_per_invoice_payment(module_api, request, who):
    viewer = request.getfixturevalue(who)
    response = viewer.get("/billing/invoices")
    assert response.status_code == 200, response.text
    payments = viewer.get("/credits/transactions", params={"transaction_type": "invoice_payment"}).json()["items"]
    invoices = response.json()["items"]
    assert invoices and len(invoices) == len(payments)
    assert {i["status"] for i in invoices} == {"paid"}
