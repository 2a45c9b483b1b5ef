"""kill -9 in the middle of a purchase burst: after a restart, every Idempotency-Key retried
settles exactly once within seconds, the balance is the sum of the purchases, and the gateway's
charges reconcile with the ledger.

Runs the real ``credits-tui serve`` in a subprocess (its own process group, so the kill takes
every worker), on SQLite and, when CREDITS_TEST_POSTGRES_URL is set, on PostgreSQL with two
workers. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from credits_tui.api_client.models import Role
from credits_tui.backend.api.app import create_app
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import Account, GatewayCharge, IdempotencyKey, Purchase
from credits_tui.backend.demo import DEMO_PASSWORD, DemoUser, add_test_card, create_account
from credits_tui.backend.services.ledger import utc_now
from credits_tui.backend.services.payments import TestGateway, reconcile
from credits_tui.cli import main
from tests.support import loopback_http
from tests.support.processes import served, with_kill

EMAIL = "burst@crash.example"
KEYS = 48
THREADS = 6
SETTLE_WITHIN = 15.0  # seconds after the restart; the lease on a dead worker's key is 5 s


@pytest.fixture
def crash_db(database: Database, demo_password_hash: str) -> Database:
    with database.write() as session:
        account, _ = create_account(session, "Crash Co.", (DemoUser(EMAIL, "Bea Burst", Role.admin),),
                                    demo_password_hash)
        add_test_card(session, account)
    return database


def amount_of(index: int) -> str:
    return f"{1 + index}.{index * 7 % 100:02d}"


def purchase(http: httpx.Client, base: str, token: str, index: int) -> httpx.Response:
    return http.post(f"{base}/credits/purchases", json={"amount": amount_of(index)},
                     headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"burst-{index}"})


@pytest.mark.slow
def test_kill_9_mid_burst_then_every_key_settles_once(crash_db, database_kind, tmp_path):
    workers = 2 if database_kind == "postgresql" else 1
    log = tmp_path / "server.log"
    answered: dict[int, httpx.Response] = {}
    lock = threading.Lock()

    with served(crash_db, log, workers) as (base, process):
        with loopback_http(timeout=10) as http:
            token = http.post(f"{base}/auth/tokens", json={"email": EMAIL, "password": DEMO_PASSWORD}).json()["token"]

        def fire(indexes: range) -> None:
            with loopback_http(timeout=10) as http:
                for index in indexes:
                    try:
                        response = purchase(http, base, token, index)
                    except httpx.TransportError:
                        return  # the server is gone
                    with lock:
                        answered[index] = response

        threads = [threading.Thread(target=fire, args=(range(t, KEYS, THREADS),)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(answered) < KEYS // 4 and time.monotonic() < deadline:
            time.sleep(0.002)
        with_kill(process)  # kill -9, mid-burst
        for thread in threads:
            thread.join(timeout=15)
        assert not any(thread.is_alive() for thread in threads)
    assert all(response.status_code == 201 for response in answered.values()), \
        [response.text for response in answered.values()]
    assert len(answered) < KEYS, "the kill came after the burst: nothing was in flight"

    with served(crash_db, log, workers) as (base, _):
        restarted = time.monotonic()
        settled: dict[int, httpx.Response] = {}
        with loopback_http(timeout=10) as http:
            for index in range(KEYS):
                while True:
                    response = purchase(http, base, token, index)
                    if response.status_code != 409:
                        break
                    assert response.json()["error"]["code"] == "idempotency_in_progress"
                    assert time.monotonic() - restarted < SETTLE_WITHIN, f"burst-{index} never settled"
                    time.sleep(0.1)
                settled[index] = response
        took = time.monotonic() - restarted

    assert took < SETTLE_WITHIN
    for index, response in settled.items():
        assert response.status_code == 201, response.text
        assert response.json()["purchase"]["amount"] == amount_of(index)
        if index in answered:  # answered before the kill: the retry is that answer again
            assert response.headers.get("Idempotent-Replayed") == "true"
            assert response.json() == answered[index].json()
    total = sum(Decimal(amount_of(index)) for index in range(KEYS))
    with crash_db.read() as session:
        assert session.scalar(select(func.count()).select_from(Purchase)) == KEYS
        assert session.scalar(select(func.count()).select_from(GatewayCharge)) == KEYS
        assert Decimal(session.scalar(select(func.sum(Purchase.amount_cents)))) / 100 == total
        assert Decimal(session.scalar(select(Account.balance_cents).where(Account.name == "Crash Co."))) / 100 \
            == total
        assert reconcile(session) == []
    result = CliRunner().invoke(main, ["reconcile", "--database-url", crash_db.url])
    assert result.exit_code == 0, result.output


def test_a_dead_workers_key_is_taken_over_after_seconds_and_its_charge_is_not_repeated(crash_db, settings):
    """The worker died after the card was charged and before the credits were written: its claim
    is left in progress. A retry gets 409 while the lease runs, then takes over, and the gateway
    hands back the first charge (same key) rather than charging again."""
    with TestClient(create_app(settings, database=crash_db), raise_server_exceptions=False) as http:
        token = http.post("/api/v1/auth/tokens", json={"email": EMAIL, "password": DEMO_PASSWORD}).json()["token"]
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "died-mid-way"}
        template = http.post("/api/v1/credits/purchases", json={"amount": "9.99"},
                             headers=headers | {"Idempotency-Key": "template"})
        assert template.status_code == 201
        with crash_db.write() as session:
            done = session.scalars(select(IdempotencyKey).where(IdempotencyKey.key == "template")).one()
            account_id = session.scalar(select(Account.id).where(Account.name == "Crash Co."))
            session.add(IdempotencyKey(account_id=account_id, key="died-mid-way", request_hash=done.request_hash,
                                       state="in_progress", created_at=utc_now() - timedelta(seconds=3)))
        first = TestGateway(crash_db).charge("tok_test_ok_demo", 999,
                                             idempotency_key=f"purchase:{account_id}:died-mid-way")

        # Three seconds after the death, the lease still holds.
        held = http.post("/api/v1/credits/purchases", json={"amount": "9.99"}, headers=headers)
        assert held.status_code == 409
        assert held.json()["error"]["code"] == "idempotency_in_progress"

        with crash_db.write() as session:  # six seconds after: past the lease
            session.execute(update(IdempotencyKey).where(IdempotencyKey.key == "died-mid-way")
                            .values(created_at=utc_now() - timedelta(seconds=6)))
        taken = http.post("/api/v1/credits/purchases", json={"amount": "9.99"}, headers=headers)

    assert taken.status_code == 201, taken.text
    with crash_db.read() as session:
        assert session.scalar(select(func.count()).select_from(GatewayCharge)) == 2  # template + the first
        charge_ids = session.scalars(select(Purchase.gateway_charge_id).order_by(Purchase.id)).all()
        assert charge_ids[-1] == first.id
        assert reconcile(session) == []
