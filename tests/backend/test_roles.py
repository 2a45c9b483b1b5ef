"""Who may call what: the role matrix for every endpoint, and one account never seeing another's."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from credits_tui.backend.api.routes import router
from credits_tui.backend.api.routes_alerts import router as alerts_router
from credits_tui.backend.api.routes_audit import router as audit_router
from credits_tui.backend.api.routes_insight import router as insight_router
from credits_tui.backend.db.schema import Account, Card, LedgerTransaction, Purchase, QuotaUsage

MEMBER_MESSAGE = ("You must have administrative rights to view Purchase Credits. "
                  "Contact your company's Lead Liaison Administrator.")

EMAILS = {
    "admin": "admin@demo.example",
    "support": "support@demo.example",
    "member": "member@demo.example",
    "service": "usage-bot@demo.example",
}
ROLES = [*EMAILS, "anonymous"]
ALL = set(EMAILS)
VIEWERS = {"admin", "support"}
ADMIN = {"admin"}


def card_body() -> dict:
    return {
        "cardholder_name": "Ada Admin",
        "number": "4242 4242 4242 4242",
        "exp_month": 11,
        "exp_year": datetime.now(timezone.utc).year + 4,
        "cvc": "321",
        "billing_address": {"line1": "1 Demo Way", "city": "Chicago", "region": "IL",
                            "postal_code": "60601", "country": "US"},
    }


# (method, path, body, roles allowed, status when allowed)
ENDPOINTS = [
    ("GET", "/me", None, ALL, 200),
    ("GET", "/account/status", None, VIEWERS, 200),
    ("GET", "/account/users", None, VIEWERS, 200),
    ("GET", "/billing/card", None, VIEWERS, 200),
    ("PUT", "/billing/card", card_body, ADMIN, 200),
    ("PATCH", "/billing/card", lambda: {"cardholder_name": "Role Matrix"}, ADMIN, 200),
    # Allowed, and then refused by the product rule (contact accounting).
    ("DELETE", "/billing/card", None, ADMIN, 409),
    ("GET", "/billing/invoices", None, VIEWERS, 200),
    ("GET", "/credits/prices", None, ALL, 200),
    ("POST", "/credits/purchases", lambda: {"amount": "1.00"}, ADMIN, 201),
    ("POST", "/credits/usage", lambda: {"process_type": "postcard", "quantity": 1}, ADMIN | {"service"}, 201),
    ("GET", "/credits/transactions", None, VIEWERS, 200),
    ("GET", "/credits/transactions/summary", None, VIEWERS, 200),
    ("GET", "/credits/transactions.csv", None, VIEWERS, 200),
    ("GET", "/credits/usage/daily", None, VIEWERS, 200),
    # Transaction 1 is Demo Co.'s opening purchase.
    ("GET", "/billing/receipts/{transaction_id}", None, VIEWERS, 200),
    ("GET", "/billing/receipts/{transaction_id}.pdf", None, VIEWERS, 200),
    ("GET", "/billing/auto-recharge", None, VIEWERS, 200),
    ("PUT", "/billing/auto-recharge", lambda: {"enabled": False, "threshold": "100.00", "recharge_to": "500.00"},
     ADMIN, 200),
    ("GET", "/billing/notifications", None, VIEWERS, 200),
    ("PUT", "/billing/notifications", lambda: {"low_balance_threshold": "25.00", "recipients": []}, ADMIN, 200),
    ("GET", "/account/notifications", None, VIEWERS, 200),
    # Support reads the billing but not who did what to it.
    ("GET", "/account/audit", None, ADMIN, 200),
]
# Tested on their own below: they change who is signed in.
SIGN_IN_ENDPOINTS = {("POST", "/auth/tokens"), ("DELETE", "/auth/tokens/current")}


def snapshot(database) -> tuple:
    """What a refused request must not change: balances and settings, ledger, purchases, quotas, cards."""
    with database.read() as session:
        return (
            tuple(session.execute(select(Account.id, Account.balance_cents, Account.auto_recharge_enabled,
                                         Account.auto_recharge_threshold_cents, Account.low_balance_threshold_cents,
                                         Account.alert_recipient_ids).order_by(Account.id)).all()),
            session.scalar(select(func.count()).select_from(LedgerTransaction)),
            session.scalar(select(func.count()).select_from(Purchase)),
            session.scalar(select(func.coalesce(func.sum(QuotaUsage.used), 0))),
            tuple(tuple(getattr(card, c.key) for c in Card.__table__.columns)
                  for card in session.scalars(select(Card).order_by(Card.account_id)).all()),
        )


def call(module_api, role: str, method: str, path: str, body):
    headers = {}
    if method == "POST" and path == "/credits/purchases":
        headers["Idempotency-Key"] = str(uuid.uuid4())
    kwargs = {"headers": headers}
    if body is not None:
        kwargs["json"] = body()
    if role == "anonymous":
        return module_api.client.request(method, f"/api/v1{path.format(transaction_id=1)}", **kwargs)
    return module_api.signed(EMAILS[role]).request(method, path.format(transaction_id=1), **kwargs)


def test_the_matrix_covers_every_route(module_api):
    routes = [*router.routes, *insight_router.routes, *alerts_router.routes, *audit_router.routes]
    in_routes_py = {(method, route.path.replace(":int", "")) for route in routes
                    if isinstance(route, APIRoute)
                    for method in route.methods - {"HEAD", "OPTIONS"}}
    openapi = module_api.client.get("/api/v1/openapi.json")
    assert openapi.status_code == 200
    served = {(method.upper(), path.removeprefix("/api/v1"))
              for path, operations in openapi.json()["paths"].items() for method in operations}
    covered = {(method, path) for method, path, *_ in ENDPOINTS} | SIGN_IN_ENDPOINTS
    assert in_routes_py == covered
    assert served == covered


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "allowed", "status"), ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS])
def test_role_matrix(module_api, role, method, path, body, allowed, status):
    before = snapshot(module_api.database)
    response = call(module_api, role, method, path, body)

    if role in allowed:
        assert response.status_code == status, response.text
        if status == 409:
            assert response.json()["error"]["code"] == "card_removal_requires_accounting"
        elif path.endswith(".csv"):
            assert response.headers["content-type"].startswith("text/csv")
            assert response.text.splitlines()[0].startswith("id,")
        elif path.endswith(".pdf"):
            assert response.headers["content-type"] == "application/pdf"
            assert response.content.startswith(b"%PDF-")
        else:
            assert "error" not in response.json()
        return

    # Refused: the right status and code, and nothing was changed.
    error = response.json()["error"]
    if role == "anonymous":
        assert response.status_code == 401, response.text
        assert error["code"] == "authentication_required"
    else:
        assert response.status_code == 403, response.text
        assert error["code"] == "admin_required"
        assert error["field"] is None
        assert error["message"].strip()
        if role == "member":
            assert error["message"] == MEMBER_MESSAGE
    assert snapshot(module_api.database) == before


@pytest.mark.parametrize("role", list(EMAILS))
def test_me_and_prices_work_for_every_role(module_api, role):
    client = module_api.signed(EMAILS[role])
    me = client.get("/me")
    assert me.status_code == 200, me.text
    assert me.json()["role"] == role
    assert me.json()["email"] == EMAILS[role]
    prices = client.get("/credits/prices")
    assert prices.status_code == 200, prices.text
    process_types = {item["process_type"] for item in prices.json()["items"]}
    assert {"handwritten_letter", "postcard", "advanced_email_test", "social_media_append", "smart_match",
            "premium_audio_transcription", "business_card_transcription",
            "zoominfo_people_search"} <= process_types


@pytest.mark.parametrize("role", list(EMAILS))
def test_every_role_may_sign_out(module_api, role):
    client = module_api.as_user(EMAILS[role])  # a token of its own: this test revokes it
    assert client.delete("/auth/tokens/current").status_code == 204
    assert client.get("/me").status_code == 401


def test_signing_out_needs_a_sign_in(module_api):
    response = module_api.client.delete("/api/v1/auth/tokens/current")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


def test_support_sees_the_same_balance_and_ledger_as_the_admin(module_api):
    admin, support = module_api.signed(EMAILS["admin"]), module_api.signed(EMAILS["support"])
    assert support.get("/account/status").json()["purchase_credits"] == \
        admin.get("/account/status").json()["purchase_credits"]
    assert support.get("/credits/transactions", params={"limit": 20}).json() == \
        admin.get("/credits/transactions", params={"limit": 20}).json()


# --- one account never sees another's data -----------------------------------------------


@pytest.fixture
def other(module_api):
    return module_api.signed("other-admin@demo.example")


@pytest.fixture
def demo_admin(module_api):
    return module_api.signed(EMAILS["admin"])


def all_transactions(client, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get("/credits/transactions", params={**params, "limit": 500,
                                                           **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return items


def test_another_accounts_admin_sees_only_its_own_account(other, demo_admin):
    status = other.get("/account/status").json()
    demo_status = demo_admin.get("/account/status").json()
    assert status["account"]["name"] == "Other Co."
    assert status["account"]["id"] != demo_status["account"]["id"]
    assert status["card_on_file"] is None, "Demo Co.'s card must not show up for Other Co."

    users = other.get("/account/users").json()["items"]
    assert [u["email"] for u in users] == ["other-admin@demo.example"]

    mine = all_transactions(other)
    demo = all_transactions(demo_admin)
    assert mine, "Other Co. has its opening balance"
    assert not {t["id"] for t in mine} & {t["id"] for t in demo}
    other_user_ids = {u["id"] for u in users}
    for item in mine:
        assert item["user"] is None or item["user"]["id"] in other_user_ids, item
    # The balance is the sum of what it sees.
    assert sum(Decimal(t["amount"]) for t in mine) == Decimal(status["purchase_credits"])
    summary = other.get("/credits/transactions/summary").json()
    assert summary["count"] == len(mine)


def test_another_accounts_csv_holds_none_of_demo_cos_rows(other, demo_admin):
    response = other.get("/credits/transactions.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    demo_ids = {str(t["id"]) for t in all_transactions(demo_admin)}
    assert rows
    assert not {row["id"] for row in rows} & demo_ids
    assert "@demo.example" not in response.text.replace("other-admin@demo.example", "")


@pytest.mark.parametrize("path", ["/credits/transactions", "/credits/transactions/summary",
                                  "/credits/transactions.csv"])
@pytest.mark.parametrize("who", ["id", "email"])
def test_filtering_by_a_user_of_another_account_is_unknown_user(other, demo_admin, path, who):
    me = demo_admin.get("/me").json()
    response = other.get(path, params={"user": str(me[who])})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "unknown_user"
    assert response.json()["error"]["field"] == "user"
    # And the other way round.
    them = other.get("/me").json()
    response = demo_admin.get(path, params={"user": str(them[who])})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "unknown_user"


def test_another_account_has_no_card_and_cannot_reach_demo_cos(other, demo_admin):
    response = other.get("/billing/card")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_card_on_file"
    theirs = {invoice["id"] for invoice in other.get("/billing/invoices").json()["items"]}
    assert theirs and not theirs & {invoice["id"] for invoice in demo_admin.get("/billing/invoices").json()["items"]}
    assert demo_admin.get("/billing/card").status_code == 200


def test_another_accounts_purchase_does_not_touch_demo_co(module_api, other, demo_admin):
    before = demo_admin.get("/account/status").json()["purchase_credits"]
    response = other.post("/credits/purchases", json={"amount": "5.00"},
                          headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 402, response.text  # Other Co. has no card on file
    assert response.json()["error"]["code"] == "card_required"
    assert demo_admin.get("/account/status").json()["purchase_credits"] == before
