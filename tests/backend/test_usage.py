"""Recording usage: POST /credits/usage, prepaid vs invoiced, free quotas (DESIGN.md §2–§3)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import ROUND_FLOOR, Decimal

import pytest
from sqlalchemy import delete, select

from credits_tui.api_client.models import TransactionType
from credits_tui.backend.db.engine import lock_account
from credits_tui.backend.db.schema import Account, QuotaUsage
from credits_tui.backend.services import ledger

MONEY = re.compile(r"^-?\d+\.\d{2}$")
ALL_PROCESS_TYPES = {
    "handwritten_letter", "postcard", "advanced_email_test", "social_media_append", "smart_match",
    "premium_audio_transcription", "business_card_transcription", "zoominfo_people_search",
}
INVOICED = {"premium_audio_transcription", "business_card_transcription"}


@pytest.fixture(autouse=True)
def month_afresh(api) -> None:
    """The demo history has used up this month's free quotas; these tests start the month anew."""
    with api.database.write() as session:
        session.execute(delete(QuotaUsage))


def status(client) -> dict:
    response = client.get("/account/status")
    assert response.status_code == 200, response.text
    return response.json()


def balance(client) -> Decimal:
    return Decimal(status(client)["purchase_credits"])


def transaction_count(client) -> int:
    response = client.get("/credits/transactions/summary")
    assert response.status_code == 200, response.text
    return response.json()["count"]


def use(client, process_type: str, quantity: int, reference: str | None = None):
    return client.post("/credits/usage", json={"process_type": process_type, "quantity": quantity,
                                               "reference": reference})


def quota(client, process_type: str) -> dict:
    return next(q for q in status(client)["free_quotas"] if q["process_type"] == process_type)


@pytest.fixture(autouse=True)
def _prepaid_rules_alone(admin) -> None:
    """The demo keeps auto-recharge on, which would top a drained balance up again: these tests
    are about the usage rules alone (tests/backend/test_auto_recharge.py has the rule itself)."""
    off = admin.put("/billing/auto-recharge", json={"enabled": False})
    assert off.status_code == 200, off.text


def drain(client, admin) -> Decimal:
    """Use postcards until less than one postcard (1.25) is left; return what is left."""
    start = balance(admin)
    postcards = int((start / Decimal("1.25")).to_integral_value(ROUND_FLOOR))
    if postcards:
        response = use(client, "postcard", postcards)
        assert response.status_code == 201, response.text
    left = balance(admin)
    assert left == start - postcards * Decimal("1.25")
    assert Decimal("0.00") <= left < Decimal("1.25")
    return left


def test_prices_list_every_process_type(member):
    response = member.get("/credits/prices")  # any signed-in user may read the catalog
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {item["process_type"] for item in items} == ALL_PROCESS_TYPES
    assert len(items) == len(ALL_PROCESS_TYPES)
    for item in items:
        assert item["label"].strip(), item
        assert MONEY.match(item["unit_price"]), item
        assert Decimal(item["unit_price"]) > 0, item
        assert item["billing"] == ("invoice" if item["process_type"] in INVOICED else "prepaid"), item
        assert isinstance(item["free_quota"], int) and item["free_quota"] >= 0
    free = {item["process_type"]: item["free_quota"] for item in items if item["free_quota"]}
    assert set(free) == {"social_media_append", "smart_match"}
    assert free["smart_match"] == 500
    by_type = {item["process_type"]: item for item in items}
    assert by_type["postcard"]["unit_price"] == "1.25"


@pytest.mark.parametrize("who", ["service", "admin"])
def test_prepaid_usage_debits_the_balance(request, admin, who):
    client = request.getfixturevalue(who)
    before = balance(admin)
    count_before = transaction_count(admin)

    response = use(client, "postcard", 2, reference="campaign-42")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["process_type"] == "postcard"
    assert (body["quantity"], body["free_quantity"], body["charged_quantity"]) == (2, 0, 2)
    assert body["amount"] == "2.50"
    transaction = body["transaction"]
    assert transaction["amount"] == "-2.50"
    assert transaction["transaction_type"] == "usage"
    assert transaction["process_type"] == "postcard"
    assert transaction["reference"] == "campaign-42"
    email = "usage-bot@demo.example" if who == "service" else "admin@demo.example"
    assert transaction["user"]["email"] == email
    assert Decimal(transaction["balance_after"]) == before - Decimal("2.50")
    assert Decimal(body["purchase_credits"]) == before - Decimal("2.50")
    assert balance(admin) == before - Decimal("2.50")
    assert transaction_count(admin) == count_before + 1
    newest = admin.get("/credits/transactions", params={"limit": 1}).json()["items"][0]
    assert newest == transaction


def test_usage_beyond_the_balance_is_refused_and_records_nothing(admin, service):
    left = drain(service, admin)
    count_before = transaction_count(admin)

    response = use(service, "postcard", 1)

    assert response.status_code == 402, response.text
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert "1.25" in error["message"]
    assert balance(admin) == left
    assert transaction_count(admin) == count_before

    # A free-quota type whose charged part does not fit: refused whole, quota untouched.
    assert quota(admin, "smart_match")["used"] == 0
    refused = use(service, "smart_match", 600)  # 500 free + 100 × 0.10 = 10.00 > left
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["code"] == "insufficient_credits"
    assert quota(admin, "smart_match")["used"] == 0
    assert balance(admin) == left
    assert transaction_count(admin) == count_before

    # What still fits goes through: the free part alone.
    fits = use(service, "smart_match", 500)
    assert fits.status_code == 201, fits.text
    assert fits.json()["free_quantity"] == 500
    assert quota(admin, "smart_match")["used"] == 500
    assert balance(admin) == left


def set_balance(api, account_name: str, cents: int) -> None:
    """Bring an account's balance to ``cents`` with one adjustment on the ledger."""
    with api.database.write() as session:
        account_id = session.scalar(select(Account.id).where(Account.name == account_name))
        account = lock_account(session, account_id)
        ledger.append(session, account, transaction_type=TransactionType.adjustment,
                      amount_cents=cents - account.balance_cents, description="Test adjustment")


def test_usage_exactly_to_zero_is_allowed(api, admin, service):
    set_balance(api, "Demo Co.", 500)
    assert balance(admin) == Decimal("5.00")

    response = use(service, "advanced_email_test", 10)  # 10 × 0.50

    assert response.status_code == 201, response.text
    assert response.json()["transaction"]["amount"] == "-5.00"
    assert response.json()["purchase_credits"] == "0.00"
    assert balance(admin) == Decimal("0.00")
    count = transaction_count(admin)
    refused = use(service, "advanced_email_test", 1)
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "insufficient_credits"
    assert balance(admin) == Decimal("0.00")
    assert transaction_count(admin) == count


def test_free_quota_then_charged(admin, service):
    before = balance(admin)
    count_before = transaction_count(admin)

    free = use(service, "smart_match", 499)

    assert free.status_code == 201, free.text
    body = free.json()
    assert (body["quantity"], body["free_quantity"], body["charged_quantity"]) == (499, 499, 0)
    assert body["amount"] == "0.00"
    assert body["transaction"] is None
    assert balance(admin) == before
    assert transaction_count(admin) == count_before
    smart = quota(admin, "smart_match")
    assert (smart["used"], smart["limit"]) == (499, 500)

    mixed = use(service, "smart_match", 3)

    assert mixed.status_code == 201, mixed.text
    body = mixed.json()
    assert (body["quantity"], body["free_quantity"], body["charged_quantity"]) == (3, 1, 2)
    assert body["amount"] == "0.20"
    assert body["transaction"]["amount"] == "-0.20"
    assert body["transaction"]["process_type"] == "smart_match"
    assert balance(admin) == before - Decimal("0.20")
    assert transaction_count(admin) == count_before + 1
    smart = quota(admin, "smart_match")
    assert (smart["used"], smart["limit"]) == (500, 500)

    beyond = use(service, "smart_match", 5)
    assert beyond.json()["free_quantity"] == 0
    assert beyond.json()["transaction"]["amount"] == "-0.50"

    # Quotas are per process type: social media appends still have their whole quota.
    social = quota(admin, "social_media_append")
    assert social["used"] == 0 and social["limit"] == 1000

    now = datetime.now(timezone.utc)
    next_month = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=timezone.utc)
    resets_at = datetime.fromisoformat(smart["resets_at"].replace("Z", "+00:00"))
    assert resets_at.utcoffset() is not None and resets_at.utcoffset().total_seconds() == 0
    assert resets_at == next_month


def test_quota_is_per_account(admin, other_admin, service):
    assert use(service, "smart_match", 500).status_code == 201
    assert quota(admin, "smart_match")["used"] == 500
    assert quota(other_admin, "smart_match")["used"] == 0
    other_before = balance(other_admin)
    response = use(other_admin, "smart_match", 10)
    assert response.status_code == 201, response.text
    assert response.json()["free_quantity"] == 10
    assert balance(other_admin) == other_before


def test_transcription_may_go_below_zero_with_a_card(admin, service):
    left = drain(service, admin)

    response = use(service, "premium_audio_transcription", 10)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["amount"] == "2.50"
    assert body["transaction"]["amount"] == "-2.50"
    assert body["transaction"]["process_type"] == "premium_audio_transcription"
    expected = left - Decimal("2.50")
    assert expected < 0
    assert Decimal(body["purchase_credits"]) == expected
    assert body["purchase_credits"] == f"{expected:.2f}"
    assert balance(admin) == expected

    business = use(admin, "business_card_transcription", 3)
    assert business.status_code == 201, business.text
    assert business.json()["transaction"]["amount"] == "-0.45"
    expected -= Decimal("0.45")
    assert balance(admin) == expected

    # With the balance below zero, prepaid usage is refused.
    refused = use(service, "postcard", 1)
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "insufficient_credits"
    assert balance(admin) == expected


def test_transcription_without_a_card_is_refused(api, other_admin):
    assert status(other_admin)["card_on_file"] is None
    before = balance(other_admin)
    count_before = transaction_count(other_admin)
    quantity = max(int(before / Decimal("0.25")) + 1, 1)  # more than the balance covers (it may be below zero)

    for process_type in INVOICED:
        response = use(other_admin, process_type, quantity)
        assert response.status_code == 402, response.text
        error = response.json()["error"]
        assert error["code"] == "card_required"
        assert "card" in error["message"].lower()

    assert balance(other_admin) == before
    assert transaction_count(other_admin) == count_before


def test_usage_is_checked(admin, service, support, member):
    before = balance(admin)
    unknown = use(service, "telepathy", 1)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_process_type"
    for quantity in (0, -1):
        response = use(service, "postcard", quantity)
        assert response.status_code == 422, response.text
    for client in (support, member):
        response = use(client, "postcard", 1)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "admin_required"
    assert balance(admin) == before


def test_status_tells_the_largest_purchase(admin, api):
    assert status(admin)["max_purchase"] == "10000.00"
    api.client.app.state.settings.max_purchase = Decimal("250.00")
    assert status(admin)["max_purchase"] == "250.00"
