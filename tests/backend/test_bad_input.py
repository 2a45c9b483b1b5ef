"""Bad input of every kind gets a 4xx error envelope that says what is wrong, changes nothing,
and is never a 500."""

from __future__ import annotations

import base64
import uuid

import pytest

from tests.support.envelopes import assert_envelope, snapshot


@pytest.fixture
def admin(module_api):
    return module_api.signed("admin@demo.example")


@pytest.fixture
def service(module_api):
    return module_api.signed("usage-bot@demo.example")


def buy(admin, *, key: str | None = "fresh", **kwargs):
    headers = {} if key is None else {"Idempotency-Key": str(uuid.uuid4()) if key == "fresh" else key}
    return admin.post("/credits/purchases", headers=headers, **kwargs)


# --- purchase amounts -----------------------------------------------------------------------

BAD_AMOUNTS = {
    # name: (JSON body text, status, code, field)
    "below the minimum": ('{"amount": "0.99"}', 422, "amount_below_minimum", "amount"),
    "zero": ('{"amount": "0"}', 422, "amount_below_minimum", "amount"),
    "negative": ('{"amount": "-5"}', 422, "amount_below_minimum", "amount"),
    "three decimal places": ('{"amount": "1.001"}', 422, "amount_precision", "amount"),
    "NaN": ('{"amount": "NaN"}', 422, "invalid_amount", "amount"),
    "Infinity": ('{"amount": "Infinity"}', 422, "invalid_amount", "amount"),
    "exponent": ('{"amount": "1e3"}', 422, "invalid_amount", "amount"),
    "a JSON float": ('{"amount": 12.5}', 422, "invalid_amount", "amount"),
    "a huge JSON float": ('{"amount": 1e400}', 422, "invalid_amount", "amount"),
    "true": ('{"amount": true}', 422, "invalid_amount", "amount"),
    "null": ('{"amount": null}', 422, "invalid_amount", "amount"),
    "empty string": ('{"amount": ""}', 422, "invalid_amount", "amount"),
    "words": ('{"amount": "abc"}', 422, "invalid_amount", "amount"),
    "currency sign": ('{"amount": "$25.00"}', 422, "invalid_amount", "amount"),
    "thousands separator": ('{"amount": "1,000.00"}', 422, "invalid_amount", "amount"),
    "a list": ('{"amount": ["25.00"]}', 422, "invalid_amount", "amount"),
    "over the maximum": ('{"amount": "10000.01"}', 422, "amount_above_maximum", "amount"),
    "far over the maximum": ('{"amount": "9999999999999.99"}', 422, "amount_above_maximum", "amount"),
    "more digits than any amount": ('{"amount": "99999999999999999999"}', 422, "invalid_amount", "amount"),
    "missing amount": ('{}', 422, "field_required", "amount"),
    "an extra field": ('{"amount": "5.00", "currency": "EUR"}', 422, "unknown_field", "currency"),
    "body is a list": ('[{"amount": "5.00"}]', 422, "invalid_body", None),
    "body is a string": ('"5.00"', 422, "invalid_body", None),
    "body is a number": ('5', 422, "invalid_body", None),
    "body is null": ('null', 422, "invalid_body", None),
    "invalid JSON": ('{"amount": "5.00"', 400, "invalid_json", None),
    "not JSON at all": ("amount=5.00", 400, "invalid_json", None),
    "the amount twice": ('{"amount": "1.00", "amount": "2.00"}', 400, "invalid_json", None),
    "a bare NaN": ('{"amount": NaN}', 400, "invalid_json", None),
    "nested past the parser's depth": ('{"amount": ' + "[" * 100_000 + "]" * 100_000 + "}", 400, "invalid_json",
                                       None),
}


@pytest.mark.parametrize(("body", "status", "code", "field"), list(BAD_AMOUNTS.values()), ids=list(BAD_AMOUNTS))
def test_bad_purchase_amounts_buy_nothing(module_api, admin, body, status, code, field):
    before = snapshot(module_api.database)
    response = admin.post("/credits/purchases", content=body,
                          headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"})
    assert_envelope(response, status, code, field)
    assert snapshot(module_api.database) == before


def test_a_good_purchase_does_change_the_snapshot(module_api, admin):
    """The control for the tests above: the snapshot sees a purchase."""
    before = snapshot(module_api.database)
    response = buy(admin, json={"amount": "1.00"})
    assert response.status_code == 201, response.text
    after = snapshot(module_api.database)
    assert after != before
    assert after[2] == before[2] + 1  # one more purchase transaction


def test_the_maximum_itself_is_accepted(admin):
    response = buy(admin, json={"amount": "10000.00"})
    assert response.status_code == 201, response.text
    assert response.json()["purchase"]["amount"] == "10000.00"


def test_a_purchase_without_an_idempotency_key_is_refused(module_api, admin):
    before = snapshot(module_api.database)
    assert_envelope(buy(admin, key=None, json={"amount": "5.00"}), 400, "idempotency_key_required")
    assert_envelope(buy(admin, key="   ", json={"amount": "5.00"}), 400, "idempotency_key_required")
    assert snapshot(module_api.database) == before


@pytest.mark.parametrize("key", ["k" * 256, "k" * 300, "k" * 10_000, "caf\u00e9".encode(), "tab\there"],
                         ids=["256 chars", "300 chars", "10,000 chars", "non-ASCII", "control character"])
def test_a_purchase_with_a_bad_idempotency_key_is_refused(module_api, admin, key):
    before = snapshot(module_api.database)
    response = admin.post("/credits/purchases", json={"amount": "5.00"}, headers={"Idempotency-Key": key})
    assert_envelope(response, 400, "invalid_idempotency_key")
    assert snapshot(module_api.database) == before


# --- transaction filters --------------------------------------------------------------------

LIST_PATHS = ["/credits/transactions", "/credits/transactions/summary", "/credits/transactions.csv"]

BAD_FILTERS = {
    # name: (query params, code, field)
    "since not a date": ({"since": "yesterday"}, "invalid_since", "since"),
    "since a number": ({"since": "6"}, "invalid_since", "since"),  # not 6 seconds after 1970
    "since month 13": ({"since": "2024-13-01"}, "invalid_since", "since"),
    "since with a bad zone": ({"since": "2024-01-01T00:00:00+99:00"}, "invalid_since", "since"),
    "until not a date": ({"until": "soon"}, "invalid_until", "until"),
    "until February 30": ({"until": "2024-02-30"}, "invalid_until", "until"),
    "since after until": ({"since": "2024-02-01", "until": "2024-01-01"}, "invalid_time_range", "since"),
    "since equals until": ({"since": "2024-02-01T00:00:00Z", "until": "2024-02-01T00:00:00Z"},
                           "invalid_time_range", "since"),
    "unknown transaction type": ({"transaction_type": "gift"}, "invalid_transaction_type", ...),
    "one good one unknown transaction type": ([("transaction_type", "usage"), ("transaction_type", "gift")],
                                              "invalid_transaction_type", ...),
    "unknown process type": ({"process_type": "teleportation"}, "unknown_process_type", "process_type"),
    "process type of 65 chars": ({"process_type": "p" * 65}, None, ...),
    "21 process types": ([("process_type", "postcard")] * 21, None, ...),
    "7 transaction types": ([("transaction_type", "usage")] * 7, None, ...),
    "q of punctuation only": ({"q": "!!! ... ???"}, "invalid_q", "q"),
    "q of 201 chars": ({"q": "a" * 201}, "invalid_q", "q"),
    "q empty": ({"q": ""}, "invalid_q", "q"),
    "user unknown email": ({"user": "nobody@demo.example"}, "unknown_user", "user"),
    "user unknown id": ({"user": "987654321"}, "unknown_user", "user"),
    "user of 255 chars": ({"user": "u" * 255}, None, "user"),
    "user a huge number": ({"user": "9" * 40}, "unknown_user", "user"),
    "user a superscript digit": ({"user": "\u00b2"}, "unknown_user", "user"),
    "user an Arabic-Indic number": ({"user": "\u0661\u0662\u0663"}, "unknown_user", "user"),
    "user with a NUL": ({"user": "admin\x00@demo.example"}, "unknown_user", "user"),
}


def _check_filter(response, code, field):
    error = assert_envelope(response, 422, code)
    if field is not ...:
        assert error["field"] == field, error
    else:  # a list parameter: the field names it (maybe with the position in the list)
        assert error["field"] and error["field"].split(".")[0] in {"transaction_type", "process_type"}, error
    if code is None:
        assert error["code"].startswith(("invalid_", "unknown_")), error


@pytest.mark.parametrize("path", LIST_PATHS)
@pytest.mark.parametrize(("params", "code", "field"), list(BAD_FILTERS.values()), ids=list(BAD_FILTERS))
def test_bad_filters(admin, path, params, code, field):
    _check_filter(admin.get(path, params=params), code, field)


TIME_FILTERS = ["since not a date", "until February 30", "since after until", "since equals until"]


@pytest.mark.parametrize("name", TIME_FILTERS)
def test_the_audit_log_checks_its_time_frame_as_the_search_does(admin, name):
    params, code, field = BAD_FILTERS[name]
    _check_filter(admin.get("/account/audit", params=params), code, field)


@pytest.mark.parametrize("limit", ["0", "501", "-1", "x", "1.5", "", "99999999999999999999999"])
def test_bad_limits(admin, limit):
    assert_envelope(admin.get("/credits/transactions", params={"limit": limit}), 422, "invalid_limit", "limit")


BAD_CURSORS = {
    "empty": "",
    "not base64": "abc",
    "base64 of garbage": base64.urlsafe_b64encode(b"\x00\xffgarbage\x13").decode(),
    "base64 of text": base64.urlsafe_b64encode(b"hello world").decode(),
    "base64 of a negative position": base64.urlsafe_b64encode(b"v1:-5").decode(),
    "base64 of a 20-digit position": base64.urlsafe_b64encode(b"v1:" + b"9" * 20).decode(),
    "base64 of a position past 64 bits": base64.urlsafe_b64encode(b"v1:9223372036854775808").decode(),
    "100 chars": "A" * 100,
    "punctuation": "!!!***",
}


@pytest.mark.parametrize("path", ["/credits/transactions", "/account/audit", "/account/notifications"])
@pytest.mark.parametrize("cursor", list(BAD_CURSORS.values()), ids=list(BAD_CURSORS))
def test_bad_cursors(admin, path, cursor):
    response = admin.get(path, params={"cursor": cursor})
    assert_envelope(response, (400, 422), "invalid_cursor", "cursor")


@pytest.mark.parametrize("recipient", [2**63, 2**64 + 5, 0, -1])
def test_alert_recipients_that_are_no_id_are_refused(module_api, admin, recipient):
    response = admin.put("/billing/notifications", json={"low_balance_threshold": "10.00", "recipients": [recipient]})
    assert_envelope(response, 422, "unknown_recipient", "recipients")
    assert str(recipient) in response.json()["error"]["message"]


def test_a_good_cursor_still_pages(admin):
    first = admin.get("/credits/transactions", params={"limit": 3}).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = admin.get("/credits/transactions", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert second["items"] and second["items"][0]["id"] < first["items"][-1]["id"]


EXTREME_DATES = {
    "since in year 1 east of UTC": {"since": "0001-01-01T00:00:00+01:00"},
    "until in year 9999 west of UTC": {"until": "9999-12-31T23:59:59-01:00"},
    "since on the last day there is": {"since": "9999-12-31T12:00:00"},
    "since in year 1": {"since": "0001-01-01"},
    "until at the end of time": {"until": "9999-12-31T23:59:59"},
}


@pytest.mark.parametrize("path", LIST_PATHS)
@pytest.mark.parametrize("params", list(EXTREME_DATES.values()), ids=list(EXTREME_DATES))
def test_extreme_dates_are_answered_not_crashed(admin, path, params):
    response = admin.get(path, params=params)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert_envelope(response, 422, {"invalid_since", "invalid_until"}, next(iter(params)))


@pytest.mark.parametrize("q", ["\u4e2d\u6587", "x:*|y & !z", "\"unbalanced", "a' OR '1'='1", "NEAR(a b)",
                               "*", "a\x00b", "\u00b2"])
def test_odd_search_text_is_answered(admin, q):
    for path in LIST_PATHS:
        response = admin.get(path, params={"q": q})
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:
            assert_envelope(response, 422, "invalid_q", "q")


# --- usage ----------------------------------------------------------------------------------

BAD_USAGE = {
    # name: (body, code, field)
    "unknown process type": ({"process_type": "teleportation", "quantity": 1}, "unknown_process_type",
                             "process_type"),
    "empty process type": ({"process_type": "", "quantity": 1}, None, "process_type"),
    "process type of 65 chars": ({"process_type": "p" * 65, "quantity": 1}, None, "process_type"),
    "quantity 0": ({"process_type": "postcard", "quantity": 0}, "invalid_quantity", "quantity"),
    "quantity -1": ({"process_type": "postcard", "quantity": -1}, "invalid_quantity", "quantity"),
    "quantity 1.5": ({"process_type": "postcard", "quantity": 1.5}, "invalid_quantity", "quantity"),
    "quantity huge": ({"process_type": "postcard", "quantity": 10**30}, "invalid_quantity", "quantity"),
    "quantity over the maximum": ({"process_type": "postcard", "quantity": 100_001}, "invalid_quantity",
                                  "quantity"),
    "quantity text": ({"process_type": "postcard", "quantity": "many"}, "invalid_quantity", "quantity"),
    "quantity as a string": ({"process_type": "postcard", "quantity": "5"}, "invalid_quantity", "quantity"),
    "quantity true": ({"process_type": "postcard", "quantity": True}, "invalid_quantity", "quantity"),
    "quantity null": ({"process_type": "postcard", "quantity": None}, "invalid_quantity", "quantity"),
    "quantity missing": ({"process_type": "postcard"}, "field_required", "quantity"),
    "process type missing": ({"quantity": 1}, "field_required", "process_type"),
    "reference of 201 chars": ({"process_type": "postcard", "quantity": 1, "reference": "r" * 201}, None,
                               "reference"),
    "reference with a NUL": ({"process_type": "postcard", "quantity": 1, "reference": "a\x00b"}, None,
                             "reference"),
    "an extra field": ({"process_type": "postcard", "quantity": 1, "price": "0.00"}, "unknown_field", "price"),
}


@pytest.mark.parametrize(("body", "code", "field"), list(BAD_USAGE.values()), ids=list(BAD_USAGE))
@pytest.mark.parametrize("who", ["admin", "service"])
def test_bad_usage_records_nothing(module_api, request, who, body, code, field):
    client = request.getfixturevalue(who)
    before = snapshot(module_api.database)
    response = client.post("/credits/usage", json=body)
    error = assert_envelope(response, 422, code, field)
    if code is None:
        assert error["code"].startswith("invalid_"), error
    assert snapshot(module_api.database) == before


def test_good_usage_does_change_the_snapshot(module_api, service):
    before = snapshot(module_api.database)
    response = service.post("/credits/usage", json={"process_type": "postcard", "quantity": 1})
    assert response.status_code == 201, response.text
    assert snapshot(module_api.database) != before


# --- oversized and odd strings --------------------------------------------------------------

HUGE = "x" * 10_000


def _card(**changes) -> dict:
    body = {"cardholder_name": "Ada Admin", "number": "4242424242424242", "exp_month": 12, "exp_year": 2099,
            "cvc": "123", "billing_address": {"line1": "1 Demo Way", "city": "Chicago", "postal_code": "60601",
                                              "country": "US"}}
    address = {k.removeprefix("address_"): v for k, v in changes.items() if k.startswith("address_")}
    body.update({k: v for k, v in changes.items() if not k.startswith("address_")})
    body["billing_address"].update(address)
    return body


ODD_CARDS = {
    "cardholder name of 10,000 chars": (_card(cardholder_name=HUGE), "cardholder_name"),
    "line1 of 10,000 chars": (_card(address_line1=HUGE), "billing_address.line1"),
    "postal code of 10,000 chars": (_card(address_postal_code=HUGE), "billing_address.postal_code"),
    "number of 10,000 digits": (_card(number="4" * 10_000), "number"),
    "cvc of 10,000 digits": (_card(cvc="1" * 10_000), "cvc"),
    "cardholder name with a NUL": (_card(cardholder_name="Ada\x00Admin"), "cardholder_name"),
    "city with a NUL": (_card(address_city="Chi\x00cago"), "billing_address.city"),
    "fullwidth digits in the number": (_card(number="\uff14" * 16), "number"),
    "exp_year enormous": (_card(exp_year=10**40), "exp_year"),
}


@pytest.mark.parametrize(("body", "field"), list(ODD_CARDS.values()), ids=list(ODD_CARDS))
def test_odd_cards_are_refused(module_api, admin, body, field):
    before = snapshot(module_api.database)
    error = assert_envelope(admin.put("/billing/card", json=body), 422, None, field)
    assert error["code"].startswith("invalid_"), error
    assert snapshot(module_api.database) == before


@pytest.mark.parametrize(("body", "field"), [
    ({"cardholder_name": HUGE}, "cardholder_name"),
    ({"cardholder_name": "Ada\x00"}, "cardholder_name"),
    ({"exp_year": -1}, "exp_year"),
], ids=["name of 10,000 chars", "name with a NUL", "negative year"])
def test_odd_card_edits_are_refused(module_api, admin, body, field):
    before = snapshot(module_api.database)
    error = assert_envelope(admin.patch("/billing/card", json=body), 422, None, field)
    assert error["code"].startswith("invalid_"), error
    assert snapshot(module_api.database) == before


@pytest.mark.parametrize(("body", "field"), [
    ({"email": HUGE + "@demo.example", "password": "x"}, "email"),
    ({"email": "admin@demo.example", "password": HUGE}, "password"),
    ({"email": "admin\x00@demo.example", "password": "demo-password"}, "email"),
    ({"email": "admin@demo.example", "password": ""}, "password"),
    ({"email": "admin@demo.example"}, "password"),
    ({"email": 42, "password": "demo-password"}, "email"),
], ids=["email of 10,000 chars", "password of 10,000 chars", "email with a NUL", "empty password",
        "password missing", "email a number"])
def test_odd_sign_ins_are_refused(module_api, body, field):
    response = module_api.client.post("/api/v1/auth/tokens", json=body)
    error = assert_envelope(response, 422, None, field)
    assert error["code"] in {"field_required"} or error["code"].startswith("invalid_"), error
    assert "token" not in response.json()


def test_search_of_10000_chars_is_refused(admin):
    for path in LIST_PATHS:
        assert_envelope(admin.get(path, params={"q": HUGE}), 422, "invalid_q", "q")
        assert_envelope(admin.get(path, params={"user": HUGE}), 422, None, "user")


# --- addresses and methods that do not exist ------------------------------------------------


def test_unknown_address_and_wrong_method_get_the_envelope(admin, module_api):
    assert_envelope(admin.get("/no/such/thing"), 404, "not_found", None)
    assert_envelope(module_api.client.get("/api/v1/no/such/thing"), 404, "not_found", None)
    assert_envelope(admin.get("/credits/purchases"), 405, "method_not_allowed", None)
    assert_envelope(admin.put("/credits/transactions", json={}), 405, "method_not_allowed", None)
