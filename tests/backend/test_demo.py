"""The demo's history is one the product itself could have written (DESIGN.md §5)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from credits_tui.api_client.models import InvoiceStatus, Role, TransactionType
from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.migrate import upgrade
from credits_tui.backend.db.schema import Account, Invoice, InvoiceLine, LedgerTransaction, Purchase, User
from credits_tui.backend.demo import DEMO_ADMIN, DEMO_PASSWORD, seed_demo
from credits_tui.backend.demo.history import AUTO_RECHARGE_DAYS
from credits_tui.backend.services.accounts import month_period
from credits_tui.backend.services.invoicing import InvoicingService, previous_period
from credits_tui.backend.services.ledger import utc_now
from credits_tui.backend.services.payments import TestGateway, reconcile
from tests.support.backend import POSTGRES_URL

THRESHOLD, RECHARGE_TO = 50_000, 200_000


@dataclass
class Seeded:
    database: Database
    settings: Settings
    client: TestClient
    _rows: dict[str, list[LedgerTransaction]] = field(default_factory=dict)

    def get(self, email: str, path: str, **params: object) -> dict:
        token = self.client.post("/api/v1/auth/tokens", json={"email": email, "password": DEMO_PASSWORD})
        assert token.status_code == 201, token.text
        response = self.client.get(f"/api/v1{path}", params=params,
                                   headers={"Authorization": f"Bearer {token.json()['token']}"})
        assert response.status_code == 200, response.text
        return response.json()

    def account_id(self, name: str) -> int:
        with self.database.read() as session:
            return session.scalar(select(Account.id).where(Account.name == name))

    def rows(self, name: str = "Demo Co.") -> list[LedgerTransaction]:
        """The account's ledger in id order, as seeded (read once)."""
        if name not in self._rows:
            with self.database.read() as session:
                self._rows[name] = list(session.scalars(select(LedgerTransaction).where(
                    LedgerTransaction.account_id == self.account_id(name)).order_by(LedgerTransaction.id)))
        return self._rows[name]

    def row_count(self) -> int:
        with self.database.read() as session:
            return session.scalar(select(func.count()).select_from(LedgerTransaction))


# 200 and 2,000 rows are what the tests and the demo seed; 60,000 takes the bulk path (indexes
# set aside and rebuilt), which differs by database, so it runs on PostgreSQL too when there is one.
SIZES = [("sqlite", 200), ("sqlite", 2_000), ("sqlite", 60_000)] + (
    [("postgresql", 2_000), ("postgresql", 60_000)] if POSTGRES_URL else [])


@pytest.fixture(scope="module", params=SIZES, ids=[f"{kind}-{size}" for kind, size in SIZES])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           demo_password_hash: str) -> Iterator[Seeded]:
    kind, size = request.param
    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'credits.db'}"
        else:
            url = stack.enter_context(_postgres_schema(f"demo_{size}_{os.getpid()}"))
        database = Database(url)
        stack.callback(database.dispose)
        upgrade(database)
        settings = Settings(database_url=url)
        seed_demo(database, settings, transactions=size, password_hash=demo_password_hash)
        with TestClient(create_app(settings, database=database), raise_server_exceptions=False) as client:
            yield Seeded(database, settings, client)


@contextlib.contextmanager
def _postgres_schema(schema: str) -> Iterator[str]:
    """A URL whose tables are in a schema of their own on the test run's PostgreSQL server."""
    assert POSTGRES_URL
    engine = create_engine(POSTGRES_URL, poolclass=NullPool)
    drop = text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    with engine.begin() as connection:
        connection.execute(drop)
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with engine.begin() as connection:
            connection.execute(drop)
        engine.dispose()


def test_the_history_has_the_rows_asked_for_and_what_billing_shows(seeded):
    rows = seeded.rows()
    assert len(rows) in {size for _, size in SIZES}
    kinds = {r.transaction_type for r in rows}
    assert {"purchase", "usage", "auto_recharge", "invoice_payment"} <= kinds
    if len(rows) >= 2_000:
        assert kinds == {t.value for t in TransactionType}


def test_only_admins_buy(seeded):
    with seeded.database.read() as session:
        roles = {user.id: user.role for user in session.scalars(select(User))}
        purchases = session.scalars(select(Purchase)).all()
    bought = [r for r in seeded.rows() if r.transaction_type == TransactionType.purchase.value]
    assert bought
    assert {roles[r.user_id] for r in bought} == {Role.admin.value}
    # Each purchase row has the purchase record the product keeps, with its charge.
    assert sorted((p.transaction_id, p.user_id, p.amount_cents, p.gateway_charge_id) for p in purchases) == sorted(
        (r.id, r.user_id, r.amount_cents, r.reference) for r in bought)
    # Support and members never appear on any row; usage is recorded by admins and the service.
    users = {roles[r.user_id] for r in seeded.rows() if r.user_id is not None}
    assert users == {Role.admin.value, Role.service.value}
    assert seeded.get("support@demo.example", "/credits/transactions", user="support@demo.example")["items"] == []


def test_balance_is_the_sum_and_every_balance_after_the_running_sum(seeded):
    for name in ("Demo Co.", "Other Co."):
        running = 0
        previous = None
        for row in seeded.rows(name):
            running += row.amount_cents
            assert row.balance_after_cents == running, (name, row.id)
            assert previous is None or row.created_at >= previous  # ids follow time
            previous = row.created_at
        with seeded.database.read() as session:
            assert session.get_one(Account, seeded.account_id(name)).balance_cents == running


def test_each_invoice_payment_has_its_paid_invoice(seeded):
    rows = seeded.rows()
    payments = [r for r in rows if r.transaction_type == TransactionType.invoice_payment.value]
    with seeded.database.read() as session:
        invoices = {i.id: i for i in session.scalars(select(Invoice).where(
            Invoice.account_id == seeded.account_id("Demo Co.")))}
        lines = session.scalars(select(InvoiceLine)).all()
    assert payments and len(invoices) == len(payments)
    for payment in payments:
        (invoice,) = [i for i in invoices.values() if i.transaction_id == payment.id]
        assert invoice.status == InvoiceStatus.paid.value
        assert invoice.amount_cents == payment.amount_cents > 0
        assert invoice.gateway_charge_id == payment.reference and invoice.card_last4 == "4242"
        assert invoice.paid_at == payment.created_at
        assert invoice.period == previous_period(payment.created_at)
        assert payment.description == f"Payment of the {invoice.period} transcription invoice"
        assert payment.user_id is None
        # The month ended that far below zero: the payment brings the balance back by the shortfall.
        before = [r for r in rows if r.id < payment.id][-1]
        assert month_period(before.created_at) == invoice.period
        assert before.balance_after_cents == -invoice.amount_cents
        mine = [line for line in lines if line.invoice_id == invoice.id]
        assert sum(line.amount_cents for line in mine) == invoice.amount_cents
        assert {line.process_type for line in mine} - {None} <= {
            "premium_audio_transcription", "business_card_transcription"}

    listed = seeded.get(DEMO_ADMIN, "/billing/invoices")["items"]
    assert listed
    assert sorted((i["period"], Decimal(i["amount"]), i["status"]) for i in listed) == sorted(
        (i.period, Decimal(i.amount_cents) / 100, "paid") for i in invoices.values())
    assert all(i["lines"] for i in listed)


def test_auto_recharge_rows_only_while_the_rule_was_on_and_each_refills_to_2000(seeded):
    rows = seeded.rows()
    turned_on = utc_now() - timedelta(days=AUTO_RECHARGE_DAYS)
    seeded_since = turned_on - timedelta(minutes=10)  # the module's seeding ran a little earlier
    recharges = [i for i, r in enumerate(rows) if r.transaction_type == TransactionType.auto_recharge.value]
    assert recharges
    for i in recharges:
        debit, recharge = rows[i - 1], rows[i]
        assert debit.amount_cents < 0 and debit.balance_after_cents < THRESHOLD
        assert recharge.amount_cents == RECHARGE_TO - debit.balance_after_cents
        assert recharge.balance_after_cents == RECHARGE_TO
        assert recharge.user_id is None and recharge.created_at >= seeded_since > rows[0].created_at
    # While the rule was on, every debit that left the balance below 500.00 was followed by a recharge.
    for i, row in enumerate(rows):
        if row.created_at >= turned_on and row.amount_cents < 0 and row.balance_after_cents < THRESHOLD:
            assert rows[i + 1].transaction_type == TransactionType.auto_recharge.value, row.id

    status = seeded.get("support@demo.example", "/account/status")
    assert status["auto_recharge"] == {"enabled": True, "threshold": "500.00", "recharge_to": "2000.00",
                                      "last_failure": None, "consecutive_failures": 0}


def test_other_co_is_below_zero_with_last_months_invoice_open(seeded):
    status = seeded.get("other-admin@demo.example", "/account/status")
    balance = Decimal(status["purchase_credits"])
    assert balance < 0
    assert status["card_on_file"] is None
    (invoice,) = seeded.get("other-admin@demo.example", "/billing/invoices")["items"]
    assert invoice["period"] == previous_period(utc_now())
    assert invoice["status"] == InvoiceStatus.payment_failed.value
    assert Decimal(invoice["amount"]) == -balance
    assert "card" in invoice["failure_message"].lower() and invoice["paid_at"] is None
    assert {line["process_type"] for line in invoice["lines"]} >= {"premium_audio_transcription"}


@pytest.mark.parametrize("seeded", [("sqlite", 200), ("sqlite", 2_000)], indirect=True,
                         ids=["sqlite-200", "sqlite-2000"])  # the same months at any size
def test_closing_any_month_again_charges_demo_co_nothing(seeded):
    """The history's months are closed already: the real month close finds nothing more to invoice."""
    demo_co = seeded.account_id("Demo Co.")
    before = seeded.row_count()
    invoicing = InvoicingService(seeded.database, seeded.settings, TestGateway(seeded.database))
    moment = utc_now()
    for _ in range(13):
        moment = moment.replace(day=1) - timedelta(days=1)
        results = invoicing.close_month(month_period(moment))
        assert [r for r in results if r.account_id == demo_co] == []
        # Other Co.'s open invoice is tried again and fails again (no card): it stays the one invoice.
        assert {r.status for r in results} <= {InvoiceStatus.payment_failed}
    assert seeded.row_count() == before


def test_every_demo_card_charge_reconciles_with_the_ledger(seeded):
    """The gateway's record and the ledger agree on the seeded history, as after real purchases."""
    with seeded.database.read() as session:
        assert reconcile(session, None) == []


def test_free_text_search_covers_the_history_and_follows_new_rows(seeded):
    """The free-text index is whole after the load (built at its end for a large one) and indexes the
    rows recorded after it. Runs last in the module: it records usage."""
    purchase = next(r for r in reversed(seeded.rows()) if r.transaction_type == TransactionType.purchase.value)
    found = seeded.get(DEMO_ADMIN, "/credits/transactions", q=purchase.reference)["items"]
    assert [item["id"] for item in found] == [purchase.id]
    campaigns = [r for r in seeded.rows() if (r.reference or "").startswith("campaign-")]
    assert campaigns
    assert seeded.get(DEMO_ADMIN, "/credits/transactions/summary", q="campaign")["count"] == len(campaigns)

    price = next(p for p in seeded.settings.prices if p.billing.value == "prepaid" and not p.free_quota)
    token = seeded.client.post("/api/v1/auth/tokens", json={"email": "usage-bot@demo.example",
                                                            "password": DEMO_PASSWORD}).json()["token"]
    recorded = seeded.client.post("/api/v1/credits/usage", headers={"Authorization": f"Bearer {token}"},
                                  json={"process_type": price.process_type, "quantity": 1,
                                        "reference": "after-the-seeding"})
    assert recorded.status_code == 201, recorded.text
    found = seeded.get(DEMO_ADMIN, "/credits/transactions", q="after-the-seeding")["items"]
    assert [item["id"] for item in found] == [recorded.json()["transaction"]["id"]]
