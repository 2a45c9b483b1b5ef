"""Every JSON body that is malformed or ambiguous gets 400 ``invalid_json`` and changes nothing,
on every route that takes a body: a key twice (a reader keeping the first ``"amount"`` would see
another purchase), nesting deeper than any parser goes, bytes that are not UTF-8, bare NaN."""

from __future__ import annotations

import uuid

import pytest

from tests.support.envelopes import assert_envelope, snapshot

BAD_BODIES = {
    "a key twice": b'{"amount": "1.00", "amount": "2.00"}',
    "a key twice, deeper": b'{"amount": "1.00", "billing_address": {"city": "A", "city": "B"}}',
    "a key twice, in a list": b'{"amount": "1.00", "x": [{"a": 1, "a": 1}]}',
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "objects nested 50,000 deep": b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
    "unclosed": b'{"amount": "5.00"',
    "not UTF-8": b'{"amount": "5.00\xff"}',
    "bare NaN": b'{"amount": NaN}',
    "bare Infinity": b'{"quantity": -Infinity}',
    "two documents": b'{"amount": "5.00"} {"amount": "6.00"}',
}
ROUTES = [("POST", "/credits/purchases"), ("PUT", "/billing/card"), ("PATCH", "/billing/card"),
          ("POST", "/credits/usage"), ("POST", "/auth/tokens")]


@pytest.fixture
def admin(module_api):
    return module_api.signed("admin@demo.example")


@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_a_bad_json_body_is_invalid_json_and_changes_nothing(module_api, admin, method, path, body):
    before = snapshot(module_api.database)

    response = admin.request(method, path, content=body, headers={
        "Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())})

    assert_envelope(response, 400, "invalid_json", None)
    assert snapshot(module_api.database) == before


def test_the_duplicate_key_message_says_what_is_wrong(admin):
    response = admin.post("/credits/purchases", content=b'{"amount": "1.00", "amount": "2.00"}',
                          headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())})
    assert "same key twice" in assert_envelope(response, 400, "invalid_json")["message"]


@pytest.mark.parametrize("content_type", [None, "application/json; charset=utf-8", "application/merge-patch+json"])
def test_a_body_without_or_with_a_json_type_is_checked_too(admin, content_type):
    headers = {"Idempotency-Key": str(uuid.uuid4())} | ({"Content-Type": content_type} if content_type else {})
    response = admin.post("/credits/purchases", content=b'{"amount": "1.00", "amount": "2.00"}', headers=headers)
    assert_envelope(response, 400, "invalid_json")


def test_a_good_body_still_buys(module_api, admin):
    """The control: the same route takes a well-formed body, sent in chunks too."""
    before = snapshot(module_api.database)

    def chunks():
        yield b'{"amount": '
        yield b'"1.00"}'

    response = admin.post("/credits/purchases", content=chunks(),
                          headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())})

    assert response.status_code == 201, response.text
    assert response.json()["purchase"]["amount"] == "1.00"
    assert snapshot(module_api.database)[2] == before[2] + 1
