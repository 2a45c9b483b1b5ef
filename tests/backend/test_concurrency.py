"""Money under concurrency: real HTTP to uvicorn on loopback, many requests at once."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from credits_tui.api_client.models import TransactionType
from credits_tui.backend.db.engine import lock_account
from credits_tui.backend.db.schema import Account, LedgerTransaction, Purchase
from credits_tui.backend.demo import DEMO_PASSWORD
from credits_tui.backend.services import ledger
from tests.support import loopback_http
from tests.support.backend import assert_ledger_invariant
from tests.support.processes import all_at_once, served

WORKERS = 20


def sign_in(base: str, email: str) -> dict[str, str]:
    with loopback_http(timeout=30) as http:
        response = http.post(f"{base}/auth/tokens", json={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def balance(base: str, headers: dict[str, str]) -> Decimal:
    with loopback_http(timeout=30) as http:
        response = http.get(f"{base}/account/status", headers=headers)
    assert response.status_code == 200, response.text
    return Decimal(response.json()["purchase_credits"])


def demo_counts(seeded) -> tuple[int, int]:
    with seeded.read() as session:
        account_id = session.scalar(select(Account.id).where(Account.name == "Demo Co."))
        purchases = session.scalar(select(func.count()).select_from(Purchase).where(Purchase.account_id == account_id))
        rows = session.scalar(select(func.count()).select_from(LedgerTransaction)
                              .where(LedgerTransaction.account_id == account_id))
    return purchases, rows


@pytest.fixture
def admin_headers(live_server) -> dict[str, str]:
    return sign_in(live_server, "admin@demo.example")


def test_concurrent_purchases_with_distinct_keys_all_land(live_server, seeded, admin_headers):
    before = balance(live_server, admin_headers)
    purchases_before, rows_before = demo_counts(seeded)
    amounts = [Decimal(f"{10 + i}.{i:02d}") for i in range(WORKERS)]

    def send(client: httpx.Client, i: int) -> httpx.Response:
        return client.post(f"{live_server}/credits/purchases", json={"amount": f"{amounts[i]:.2f}"},
                           headers={**admin_headers, "Idempotency-Key": f"distinct-{i}-{uuid.uuid4()}"})

    responses = all_at_once(WORKERS, send)

    assert [r.status_code for r in responses] == [201] * WORKERS, [r.text for r in responses if r.status_code != 201]
    assert [r.json()["purchase"]["amount"] for r in responses] == [f"{a:.2f}" for a in amounts]
    assert balance(live_server, admin_headers) == before + sum(amounts)
    assert demo_counts(seeded) == (purchases_before + WORKERS, rows_before + WORKERS)
    # Each response's balance_after is a distinct step of one sequence.
    afters = sorted(Decimal(r.json()["transaction"]["balance_after"]) for r in responses)
    assert len(set(afters)) == WORKERS
    assert afters[-1] == before + sum(amounts)


def test_concurrent_retries_of_one_key_buy_once(live_server, seeded, admin_headers):
    before = balance(live_server, admin_headers)
    purchases_before, rows_before = demo_counts(seeded)
    key = f"one-key-{uuid.uuid4()}"

    def send(client: httpx.Client, i: int) -> httpx.Response:
        return client.post(f"{live_server}/credits/purchases", json={"amount": "25.00"},
                           headers={**admin_headers, "Idempotency-Key": key})

    responses = all_at_once(WORKERS, send)

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert created, statuses
    assert all(r.json() == created[0].json() for r in created)
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in created) == 1
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["error"]["code"] == "idempotency_in_progress"
    assert demo_counts(seeded) == (purchases_before + 1, rows_before + 1)
    assert balance(live_server, admin_headers) == before + Decimal("25.00")
    # Once settled, the key replays the one purchase.
    with loopback_http(timeout=30) as http:
        replay = http.post(f"{live_server}/credits/purchases", json={"amount": "25.00"},
                           headers={**admin_headers, "Idempotency-Key": key})
    assert replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == created[0].json()


def test_concurrent_usage_never_overdraws_a_prepaid_balance(live_server, seeded, admin_headers):
    service_headers = sign_in(live_server, "usage-bot@demo.example")
    with seeded.write() as session:  # bring Demo Co. to exactly 10.00, with nothing to top it up
        account_id = session.scalar(select(Account.id).where(Account.name == "Demo Co."))
        account = lock_account(session, account_id)
        account.auto_recharge_enabled = False  # the demo seeds it on
        ledger.append(session, account, transaction_type=TransactionType.adjustment,
                      amount_cents=1000 - account.balance_cents, description="Test adjustment to 10.00")
    assert balance(live_server, admin_headers) == Decimal("10.00")
    _, rows_before = demo_counts(seeded)

    def send(client: httpx.Client, i: int) -> httpx.Response:
        return client.post(f"{live_server}/credits/usage", json={"process_type": "postcard", "quantity": 1},
                           headers=service_headers)

    responses = all_at_once(WORKERS, send)

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 402}, [r.text for r in responses]
    succeeded = statuses.count(201)
    for refused in (r for r in responses if r.status_code == 402):
        assert refused.json()["error"]["code"] == "insufficient_credits"
    after = balance(live_server, admin_headers)
    assert after >= 0
    assert succeeded * Decimal("1.25") == Decimal("10.00") - after
    assert succeeded == 8  # 10.00 buys exactly eight postcards at 1.25
    assert after == Decimal("0.00")
    assert demo_counts(seeded)[1] == rows_before + succeeded
    afters = sorted(Decimal(r.json()["transaction"]["balance_after"]) for r in responses if r.status_code == 201)
    assert afters == [Decimal("1.25") * n for n in range(8)]


def test_concurrent_usage_and_purchases_keep_the_books(live_server, seeded, admin_headers):
    """Purchases and debits interleaved: the final balance is the exact sum of what landed."""
    service_headers = sign_in(live_server, "usage-bot@demo.example")
    before = balance(live_server, admin_headers)
    _, rows_before = demo_counts(seeded)

    def send(client: httpx.Client, i: int) -> httpx.Response:
        if i % 2:
            return client.post(f"{live_server}/credits/purchases", json={"amount": "7.77"},
                               headers={**admin_headers, "Idempotency-Key": f"mix-{i}-{uuid.uuid4()}"})
        return client.post(f"{live_server}/credits/usage", json={"process_type": "handwritten_letter",
                                                                 "quantity": 3}, headers=service_headers)

    responses = all_at_once(WORKERS, send)

    assert [r.status_code for r in responses] == [201] * WORKERS, [r.text for r in responses]
    expected = before + (WORKERS // 2) * Decimal("7.77") - (WORKERS // 2) * Decimal("10.50")
    assert balance(live_server, admin_headers) == expected
    assert demo_counts(seeded)[1] == rows_before + WORKERS


@pytest.mark.sqlite_only  # several PostgreSQL workers: test_auto_recharge.py
def test_purchases_across_worker_processes_all_land_and_keep_the_books(seeded, tmp_path):
    # Each worker process has its own connections and its own place in the queue for SQLite's
    # write turn (engine._SqliteWriter): the books must come out the same as with one.
    with served(seeded, tmp_path / "serve.log", workers=2) as (base, _process):
        headers = sign_in(base, "admin@demo.example")
        before = balance(base, headers)
        amounts = [Decimal(f"{5 + i}.25") for i in range(WORKERS)]
        responses = all_at_once(WORKERS, lambda client, i: client.post(
            f"{base}/credits/purchases", json={"amount": f"{amounts[i]:.2f}"},
            headers={**headers, "Idempotency-Key": f"across-{i}-{uuid.uuid4()}"}))
        assert [r.status_code for r in responses] == [201] * WORKERS, [r.text for r in responses]
        assert balance(base, headers) == before + sum(amounts)
    assert_ledger_invariant(seeded)
