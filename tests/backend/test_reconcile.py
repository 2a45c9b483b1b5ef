"""The test gateway keeps its own record of charges, as a processor would, and
``credits-tui reconcile`` holds it against the purchase, auto_recharge and invoice_payment
transactions: exit 0 when they match one to one, a line per mismatch and exit 1 otherwise."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from credits_tui.api_client.models import Role, TransactionType
from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database, lock_account
from credits_tui.backend.db.schema import GatewayCharge, Purchase
from credits_tui.backend.demo import DEMO_PASSWORD, DemoUser, add_test_card, create_account
from credits_tui.backend.services import ledger
from credits_tui.backend.services.payments import (
    ChargeDeclined,
    TestGateway,
    reconcile,
    record_historical_charges,
)
from credits_tui.cli import main

EMAIL = "ops@fresh.example"


@dataclass
class Fresh:
    """An account with no history and a good card, its admin signed in."""

    database: Database
    account_id: int
    http: TestClient


@pytest.fixture
def fresh(database: Database, settings: Settings, demo_password_hash: str) -> Iterator[Fresh]:
    with database.write() as session:
        account, _ = create_account(session, "Fresh Co.", (DemoUser(EMAIL, "Olly Ops", Role.admin),),
                                    demo_password_hash)
        add_test_card(session, account)
        account_id = account.id
    with TestClient(create_app(settings, database=database), raise_server_exceptions=False) as http:
        token = http.post("/api/v1/auth/tokens", json={"email": EMAIL, "password": DEMO_PASSWORD}).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield Fresh(database, account_id, http)


def buy(fresh: Fresh, amount: str, key: str):
    return fresh.http.post("/api/v1/credits/purchases", json={"amount": amount}, headers={"Idempotency-Key": key})


def run_reconcile(database: Database, *args: str):
    return CliRunner().invoke(main, ["reconcile", "--database-url", database.url, *args])


def charge_count(database: Database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(GatewayCharge))


def test_purchases_reconcile_and_the_command_says_so(fresh):
    for amount, key in [("5.00", "a"), ("12.34", "b"), ("5.00", "a"), ("1.00", "c")]:
        assert buy(fresh, amount, key).status_code == 201

    assert charge_count(fresh.database) == 3  # the replay charged nothing
    result = run_reconcile(fresh.database)
    assert result.exit_code == 0, result.output
    assert "Every charge has exactly one transaction" in result.output


def test_a_charge_whose_ledger_write_rolled_back_is_reported_then_settled_by_the_retry(fresh, monkeypatch):
    real_post = ledger.post

    def crash(*args, **kwargs):
        raise RuntimeError("the database went away after the charge")

    monkeypatch.setattr(ledger, "post", crash)
    assert buy(fresh, "25.00", "k-1").status_code == 500
    monkeypatch.setattr(ledger, "post", real_post)

    # The card was charged and the gateway kept it, though the ledger has nothing.
    with fresh.database.read() as session:
        charge = session.scalars(select(GatewayCharge)).one()
    assert charge.amount_cents == 2500
    result = run_reconcile(fresh.database)
    assert result.exit_code == 1
    assert f"charge_without_transaction: charge {charge.id} of 25.00 USD" in result.output

    # The retry with the same key gets the same charge back and records it once.
    retried = buy(fresh, "25.00", "k-1")
    assert retried.status_code == 201, retried.text
    assert charge_count(fresh.database) == 1
    with fresh.database.read() as session:
        assert session.scalars(select(Purchase.gateway_charge_id)).all() == [charge.id]
    assert run_reconcile(fresh.database).exit_code == 0


def test_every_kind_of_mismatch_is_reported(fresh):
    gateway = TestGateway(fresh.database)
    good = gateway.charge("tok_test_ok_x", 1000, idempotency_key="t:1")
    doubled = gateway.charge("tok_test_ok_x", 2000, idempotency_key="t:2")
    short = gateway.charge("tok_test_ok_x", 3000, idempotency_key="t:3")
    with fresh.database.write() as session:
        account = lock_account(session, fresh.account_id)

        def add(kind: TransactionType, cents: int, reference: str | None) -> None:
            ledger.append(session, account, transaction_type=kind, amount_cents=cents,
                          description="written by the test", reference=reference)

        add(TransactionType.purchase, 1000, good.id)
        add(TransactionType.auto_recharge, 2000, doubled.id)
        add(TransactionType.auto_recharge, 2000, doubled.id)
        add(TransactionType.invoice_payment, 2999, short.id)
        add(TransactionType.purchase, 700, "ch_never_made")
        add(TransactionType.invoice_payment, 800, None)
        add(TransactionType.usage, -50, "campaign-1")  # usage is not charged to a card
        add(TransactionType.refund, 50, None)

    result = run_reconcile(fresh.database)

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert any(line.startswith(f"charge_with_several_transactions: charge {doubled.id} ") and
               "has 2 transactions" in line for line in lines)
    assert any(line.startswith(f"amount_differs: charge {short.id} of 30.00 USD")
               and "29.99 USD" in line for line in lines)
    assert sum("transaction_without_charge" in line for line in lines) == 2
    assert any("reference ch_never_made" in line for line in lines)
    assert any("invoice_payment, 8.00 USD" in line and "reference none" in line for line in lines)
    assert not any(good.id in line for line in lines)
    assert "4 mismatches between gateway charges and transactions." in result.output

    later = (ledger.utc_now() + timedelta(minutes=1)).isoformat()
    assert run_reconcile(fresh.database, "--since", later).exit_code == 0
    assert run_reconcile(fresh.database, "--since", "yesterday").exit_code == 2  # a usage error, said


def test_a_window_edge_flags_nothing(fresh):
    """A charge just before --since whose transaction falls after it is a match, not two mismatches."""
    gateway = TestGateway(fresh.database)
    charge = gateway.charge("tok_test_ok_x", 500, idempotency_key="edge")
    with fresh.database.read() as session:
        charged_at = session.get_one(GatewayCharge, charge.id).created_at
    with fresh.database.write() as session:
        ledger.append(session, lock_account(session, fresh.account_id), transaction_type=TransactionType.purchase,
                      amount_cents=500, description="recorded a moment later", reference=charge.id,
                      at=charged_at + timedelta(seconds=2))
    with fresh.database.read() as session:
        assert reconcile(session, since=charged_at + timedelta(seconds=1)) == []


def test_the_gateway_answers_a_retried_key_with_its_first_charge(database):
    gateway = TestGateway(database)

    first = gateway.charge("tok_test_ok_a", 4200, idempotency_key="purchase:1:k")
    again = gateway.charge("tok_test_ok_b", 4200, idempotency_key="purchase:1:k")  # even on another card

    assert again == first
    assert charge_count(database) == 1
    with pytest.raises(ValueError):
        gateway.charge("tok_test_ok_a", 4300, idempotency_key="purchase:1:k")
    with pytest.raises(ChargeDeclined):
        gateway.charge("tok_test_declines_charges_c", 100, idempotency_key="purchase:1:other")
    assert charge_count(database) == 1  # a declined charge charged nothing


def test_concurrent_retries_of_one_key_make_one_charge(database):
    gateway = TestGateway(database)
    barrier = threading.Barrier(6)

    def charge():
        barrier.wait(timeout=10)
        return gateway.charge("tok_test_ok_a", 700, idempotency_key="purchase:1:same")

    with ThreadPoolExecutor(6) as pool:
        charges = list(pool.map(lambda _: charge(), range(6)))

    assert len(set(charges)) == 1
    assert charge_count(database) == 1


def test_history_written_without_the_gateway_reconciles_once_its_charges_are_recorded(fresh):
    at = ledger.utc_now() - timedelta(days=30)
    rows = [
        dict(transaction_type="purchase", amount_cents=5000, created_at=at, reference="ch_hist_1"),
        dict(transaction_type="auto_recharge", amount_cents=10000, created_at=at, reference="ch_hist_2"),
        dict(transaction_type="invoice_payment", amount_cents=1250, created_at=at, reference="ch_hist_3"),
        dict(transaction_type="usage", amount_cents=-300, created_at=at, reference="campaign-3"),
    ]
    with fresh.database.write() as session:
        account = lock_account(session, fresh.account_id)
        for row in rows:
            ledger.append(session, account, transaction_type=TransactionType(row["transaction_type"]),
                          amount_cents=row["amount_cents"], description="history", reference=row["reference"],
                          at=row["created_at"])
    assert run_reconcile(fresh.database).exit_code == 1

    with fresh.database.write() as session:
        assert record_historical_charges(session, rows) == 3

    assert run_reconcile(fresh.database).exit_code == 0


def test_an_invoice_paid_at_month_close_reconciles(fresh):
    now = ledger.utc_now()
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(day=2, hour=12)
    with fresh.database.write() as session:
        ledger.append(session, lock_account(session, fresh.account_id), transaction_type=TransactionType.usage,
                      amount_cents=-900, description="Premium audio transcription × 36",
                      process_type="premium_audio_transcription", quantity=36, at=last_month)
    period = f"{last_month:%Y-%m}"

    for _ in range(2):  # a second close finds the invoice paid and charges nothing
        closed = CliRunner().invoke(main, ["close-month", "--period", period, "--database-url", fresh.database.url])
        assert closed.exit_code == 0, closed.output

    assert charge_count(fresh.database) == 1
    result = run_reconcile(fresh.database)
    assert result.exit_code == 0, result.output
