"""Month close: the post-paid shortfall is invoiced and charged to the card (DESIGN.md §2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from credits_tui.api_client.models import Role, TransactionType
from credits_tui.backend.db.engine import lock_account
from credits_tui.backend.db.schema import Invoice
from credits_tui.backend.demo import DemoUser, add_test_card, create_account
from credits_tui.backend.services import ledger
from credits_tui.backend.services.invoicing import CloseResult, InvoicingService
from credits_tui.backend.services.payments import TestGateway
from tests.support.purchases import card_goes_bad

MONEY = re.compile(r"^-?\d+\.\d{2}$")
FRESH_EMAIL = "fresh-admin@demo.example"
CARDLESS_EMAIL = "cardless-admin@demo.example"


def month_start(moment: datetime, months_back: int) -> datetime:
    year, month = moment.year, moment.month - months_back
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=timezone.utc)


def period_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


NOW = datetime.now(timezone.utc)
LAST_MONTH = month_start(NOW, 1)
TWO_MONTHS_AGO = month_start(NOW, 2)


@dataclass
class Fresh:
    account_id: int
    user_id: int
    client: object


@pytest.fixture
def fresh(api, demo_password_hash) -> Fresh:
    """A new account with the 4242 card on file and no history."""
    with api.database.write() as session:
        users = (DemoUser(FRESH_EMAIL, "Fay Fresh", Role.admin),
                 DemoUser("fresh-support@demo.example", "Sid Support", Role.support))
        account, rows = create_account(session, "Fresh Co.", users, demo_password_hash)
        add_test_card(session, account)
        account_id, user_id = account.id, rows[0].id
    return Fresh(account_id, user_id, api.as_user(FRESH_EMAIL))


class _TestsInvoicing(InvoicingService):
    """The month close, reporting only the accounts the tests build: the demo's Other Co. has an
    open invoice of its own, which every close tries again."""

    def close_month(self, period: str) -> list[CloseResult]:
        return [r for r in super().close_month(period) if r.account_name != "Other Co."]


@pytest.fixture
def invoicing(api, settings) -> InvoicingService:
    return _TestsInvoicing(api.database, settings, TestGateway(api.database))


PRICES = {"premium_audio_transcription": (25, "Premium audio transcription (minute)"),
          "business_card_transcription": (15, "Business card transcription"),
          "postcard": (125, "Postcard")}


def write(api, account_id: int, at: datetime, kind: TransactionType, cents: int, *,
          process_type: str | None = None, quantity: int | None = None) -> None:
    """Append one ledger row dated ``at`` (which must not be before the account's last row)."""
    with api.database.write() as session:
        account = lock_account(session, account_id)
        label = PRICES[process_type][1] if process_type else None
        row = ledger.append(session, account, transaction_type=kind, amount_cents=cents,
                            process_type=process_type, process_label=label, quantity=quantity,
                            description=f"{label} × {quantity}" if label else f"Test {kind.value}", at=at)
        assert row.created_at == at


def usage(api, account_id: int, at: datetime, process_type: str, quantity: int) -> None:
    write(api, account_id, at, TransactionType.usage, -quantity * PRICES[process_type][0],
          process_type=process_type, quantity=quantity)


def balance(client) -> Decimal:
    response = client.get("/account/status")
    assert response.status_code == 200, response.text
    return Decimal(response.json()["purchase_credits"])


def invoices(client) -> list[dict]:
    response = client.get("/billing/invoices")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def invoice_payments(client) -> list[dict]:
    response = client.get("/credits/transactions", params={"transaction_type": "invoice_payment"})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def invoice_rows(api, account_id: int) -> int:
    with api.database.read() as session:
        return session.scalar(select(func.count()).select_from(Invoice).where(Invoice.account_id == account_id))


def build_negative_month(api, fresh: Fresh, start: datetime) -> None:
    """20.00 bought, 2.50 of postcards, then 26.50 of transcription: -9.00 at month end."""
    write(api, fresh.account_id, start + timedelta(days=1), TransactionType.purchase, 2000)
    usage(api, fresh.account_id, start + timedelta(days=1, hours=1), "postcard", 2)
    usage(api, fresh.account_id, start + timedelta(days=2), "premium_audio_transcription", 100)
    usage(api, fresh.account_id, start + timedelta(days=3, hours=5), "business_card_transcription", 10)


def test_negative_month_end_is_invoiced_and_paid(api, fresh, invoicing, admin):
    build_negative_month(api, fresh, LAST_MONTH)
    # Transcription this month, after the invoiced month: not part of its invoice.
    this_month = fresh.client.post("/credits/usage", json={"process_type": "premium_audio_transcription",
                                                           "quantity": 4})
    assert this_month.status_code == 201, this_month.text
    assert balance(fresh.client) == Decimal("-10.00")

    results = invoicing.close_month(period_of(LAST_MONTH))

    assert [(r.account_id, r.amount_cents, r.status.value) for r in results] == [(fresh.account_id, 900, "paid")]
    assert "4242" in results[0].message
    # The payment brings the balance back to what this month's usage alone leaves.
    assert balance(fresh.client) == Decimal("-1.00")
    payments = invoice_payments(fresh.client)
    assert len(payments) == 1
    assert payments[0]["amount"] == "9.00"
    assert payments[0]["balance_after"] == "-1.00"
    assert payments[0]["user"] is None

    items = invoices(fresh.client)
    assert len(items) == 1
    invoice = items[0]
    assert invoice["period"] == period_of(LAST_MONTH)
    assert invoice["amount"] == "9.00"
    assert MONEY.match(invoice["amount"])
    assert invoice["status"] == "paid"
    assert invoice["card_last4"] == "4242"
    assert invoice["failure_message"] is None
    assert invoice["paid_at"] is not None
    lines = {(line["process_type"], line["description"], line["quantity"], line["amount"])
             for line in invoice["lines"]}
    assert lines == {
        ("premium_audio_transcription", "Premium audio transcription (minute)", 100, "25.00"),
        ("business_card_transcription", "Business card transcription", 10, "1.50"),
        (None, "Prepaid credits applied", 1, "-17.50"),
    }
    assert len(invoice["lines"]) == 3
    assert sum(Decimal(line["amount"]) for line in invoice["lines"]) == Decimal(invoice["amount"])
    for line in invoice["lines"]:
        assert MONEY.match(line["amount"])

    # Closing again changes nothing: one invoice, one payment.
    assert invoicing.close_month(period_of(LAST_MONTH)) == []
    assert invoice_rows(api, fresh.account_id) == 1
    assert len(invoice_payments(fresh.client)) == 1
    assert balance(fresh.client) == Decimal("-1.00")
    # Nobody else was invoiced, and no one else sees the invoice.
    assert invoice["id"] not in {item["id"] for item in invoices(admin)}


def test_invoice_without_prepaid_credits_has_only_usage_lines(api, fresh, invoicing):
    usage(api, fresh.account_id, LAST_MONTH + timedelta(hours=3), "premium_audio_transcription", 30)

    results = invoicing.close_month(period_of(LAST_MONTH))

    assert [(r.amount_cents, r.status.value) for r in results] == [(750, "paid")]
    invoice = invoices(fresh.client)[0]
    assert invoice["amount"] == "7.50"
    assert [(line["process_type"], line["quantity"], line["amount"]) for line in invoice["lines"]] == [
        ("premium_audio_transcription", 30, "7.50")]
    assert balance(fresh.client) == Decimal("0.00")


@pytest.mark.parametrize("outcome, words", [
    ("declines_charges", "declined"),
    ("insufficient_funds", "insufficient funds"),
    ("processing_error", "processor"),
])
def test_failed_charge_is_retried_after_the_card_is_replaced(api, fresh, invoicing, outcome, words):
    build_negative_month(api, fresh, LAST_MONTH)
    card_goes_bad(api, outcome, "Fresh Co.")  # cards that fail are refused at save: this one went bad later

    results = invoicing.close_month(period_of(LAST_MONTH))

    assert [(r.amount_cents, r.status.value) for r in results] == [(900, "payment_failed")]
    assert words in results[0].message.lower()
    invoice = invoices(fresh.client)[0]
    assert invoice["status"] == "payment_failed"
    assert invoice["amount"] == "9.00"
    assert words in invoice["failure_message"].lower()
    assert invoice["paid_at"] is None
    assert invoice_payments(fresh.client) == []
    assert balance(fresh.client) == Decimal("-9.00")

    # The same card declines again; the invoice is not duplicated.
    assert [r.status.value for r in invoicing.close_month(period_of(LAST_MONTH))] == ["payment_failed"]
    assert invoice_rows(api, fresh.account_id) == 1
    assert balance(fresh.client) == Decimal("-9.00")

    assert fresh.client.put("/billing/card", json={**CARD, "number": "4242424242424242"}).status_code == 200
    results = invoicing.close_month(period_of(LAST_MONTH))

    assert [(r.amount_cents, r.status.value) for r in results] == [(900, "paid")]
    items = invoices(fresh.client)
    assert len(items) == 1
    assert items[0]["id"] == invoice["id"]
    assert items[0]["status"] == "paid"
    assert items[0]["failure_message"] is None
    assert items[0]["paid_at"] is not None
    assert len(invoice_payments(fresh.client)) == 1
    assert balance(fresh.client) == Decimal("0.00")
    assert invoicing.close_month(period_of(LAST_MONTH)) == []
    assert balance(fresh.client) == Decimal("0.00")


def test_no_card_leaves_the_invoice_unpaid(api, invoicing, demo_password_hash):
    """An account with no card going negative gets an unpaid invoice that says why."""
    with api.database.write() as session:
        account, _ = create_account(session, "Cardless Co.", (DemoUser(CARDLESS_EMAIL, "Cy Cardless", Role.admin),),
                                    demo_password_hash)
        account_id = account.id
    write(api, account_id, LAST_MONTH + timedelta(days=1), TransactionType.adjustment, 1000)
    usage(api, account_id, LAST_MONTH + timedelta(days=5), "premium_audio_transcription", 48)  # 2.00 past zero
    cardless = api.as_user(CARDLESS_EMAIL)

    results = invoicing.close_month(period_of(LAST_MONTH))

    assert [(r.amount_cents, r.status.value) for r in results] == [(200, "payment_failed")]
    invoice = invoices(cardless)[0]
    assert invoice["status"] == "payment_failed"
    assert "card" in invoice["failure_message"].lower()
    assert invoice["card_last4"] is None
    assert balance(cardless) == Decimal("-2.00")


def test_positive_month_end_is_not_invoiced(api, fresh, invoicing):
    write(api, fresh.account_id, LAST_MONTH + timedelta(days=1), TransactionType.purchase, 2000)
    usage(api, fresh.account_id, LAST_MONTH + timedelta(days=2), "premium_audio_transcription", 80)  # 20.00

    assert invoicing.close_month(period_of(LAST_MONTH)) == []

    assert invoices(fresh.client) == []
    assert invoice_rows(api, fresh.account_id) == 0
    assert balance(fresh.client) == Decimal("0.00")
    assert invoice_payments(fresh.client) == []


def test_only_the_closed_month_counts(api, fresh, invoicing):
    """A month that ended positive is not invoiced for a later month's shortfall."""
    write(api, fresh.account_id, TWO_MONTHS_AGO + timedelta(days=1), TransactionType.purchase, 1000)
    usage(api, fresh.account_id, TWO_MONTHS_AGO + timedelta(days=2), "premium_audio_transcription", 20)  # 5.00
    usage(api, fresh.account_id, LAST_MONTH + timedelta(days=2), "premium_audio_transcription", 40)  # 10.00

    assert invoicing.close_month(period_of(TWO_MONTHS_AGO)) == []
    results = invoicing.close_month(period_of(LAST_MONTH))

    assert [(r.amount_cents, r.status.value) for r in results] == [(500, "paid")]
    invoice = invoices(fresh.client)[0]
    assert invoice["period"] == period_of(LAST_MONTH)
    assert {(line["process_type"], line["quantity"], line["amount"]) for line in invoice["lines"]} == {
        ("premium_audio_transcription", 40, "10.00"), (None, 1, "-5.00")}
    assert balance(fresh.client) == Decimal("0.00")


def test_a_month_not_yet_ended_cannot_be_closed(api, fresh, invoicing):
    usage(api, fresh.account_id, NOW - timedelta(minutes=1), "premium_audio_transcription", 4)
    with pytest.raises(ValueError):
        invoicing.close_month(period_of(NOW))
    next_month = month_start(NOW + timedelta(days=32), 0)
    with pytest.raises(ValueError):
        invoicing.close_month(period_of(next_month))
    with pytest.raises(ValueError):
        invoicing.close_month("2024-13")
    assert invoice_rows(api, fresh.account_id) == 0
    assert balance(fresh.client) == Decimal("-1.00")


def test_who_sees_invoices(api, fresh, invoicing, member):
    usage(api, fresh.account_id, LAST_MONTH + timedelta(hours=3), "business_card_transcription", 20)
    invoicing.close_month(period_of(LAST_MONTH))
    support = api.as_user("fresh-support@demo.example")

    assert invoices(support) == invoices(fresh.client)
    assert [item["amount"] for item in invoices(support)] == ["3.00"]
    response = member.get("/billing/invoices")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_required"


CARD = {"cardholder_name": "Fay Fresh", "exp_month": 12, "exp_year": NOW.year + 2, "cvc": "123",
        "billing_address": {"line1": "2 Fresh St", "city": "Austin", "postal_code": "73301", "country": "US"}}


def two_negative_months(api, fresh) -> None:
    usage(api, fresh.account_id, TWO_MONTHS_AGO + timedelta(days=2), "premium_audio_transcription", 40)  # 10.00
    usage(api, fresh.account_id, LAST_MONTH + timedelta(days=2), "premium_audio_transcription", 20)  # 5.00


def amounts_by_period(client) -> dict[str, tuple[str, str]]:
    return {item["period"]: (item["amount"], item["status"]) for item in invoices(client)}


def total_paid(client) -> Decimal:
    return sum((Decimal(p["amount"]) for p in invoice_payments(client)), Decimal("0.00"))


def test_an_unpaid_earlier_month_is_not_charged_twice(api, fresh, invoicing):
    """The earlier month declines, the next is closed, then the earlier one is retried: 15.00 owed, 15.00 paid."""
    two_negative_months(api, fresh)
    assert fresh.client.put("/billing/card", json={**CARD, "number": "4000000000000341"}).status_code == 200
    assert [r.status.value for r in invoicing.close_month(period_of(TWO_MONTHS_AGO))] == ["payment_failed"]
    assert fresh.client.put("/billing/card", json={**CARD, "number": "4242424242424242"}).status_code == 200

    invoicing.close_month(period_of(LAST_MONTH))
    invoicing.close_month(period_of(TWO_MONTHS_AGO))
    invoicing.close_month(period_of(LAST_MONTH))

    assert amounts_by_period(fresh.client) == {period_of(TWO_MONTHS_AGO): ("10.00", "paid"),
                                               period_of(LAST_MONTH): ("5.00", "paid")}
    assert total_paid(fresh.client) == Decimal("15.00")
    assert balance(fresh.client) == Decimal("0.00")


def test_months_closed_late_are_not_charged_twice(api, fresh, invoicing):
    """Both months closed today: the first payment is dated after the second month's end."""
    two_negative_months(api, fresh)

    invoicing.close_month(period_of(TWO_MONTHS_AGO))
    invoicing.close_month(period_of(LAST_MONTH))

    assert amounts_by_period(fresh.client) == {period_of(TWO_MONTHS_AGO): ("10.00", "paid"),
                                               period_of(LAST_MONTH): ("5.00", "paid")}
    assert total_paid(fresh.client) == Decimal("15.00")
    assert balance(fresh.client) == Decimal("0.00")


def test_months_closed_out_of_order_are_not_charged_twice(api, fresh, invoicing):
    """The later month is closed first and carries the earlier unpaid rest; the earlier close adds nothing."""
    two_negative_months(api, fresh)

    results = invoicing.close_month(period_of(LAST_MONTH))

    assert [(r.amount_cents, r.status.value) for r in results] == [(1500, "paid")]
    lines = {(line["process_type"], line["description"], line["amount"])
             for line in invoices(fresh.client)[0]["lines"]}
    assert lines == {("premium_audio_transcription", "Premium audio transcription (minute)", "5.00"),
                     (None, "Unpaid balance from earlier months", "10.00")}
    assert invoicing.close_month(period_of(TWO_MONTHS_AGO)) == []
    assert amounts_by_period(fresh.client) == {period_of(LAST_MONTH): ("15.00", "paid")}
    assert total_paid(fresh.client) == Decimal("15.00")
    assert balance(fresh.client) == Decimal("0.00")


def test_closing_a_month_retries_earlier_failed_invoices(api, fresh, invoicing):
    """An operator who only ever runs the default close (last month) still collects an older declined invoice."""
    two_negative_months(api, fresh)
    assert fresh.client.put("/billing/card", json={**CARD, "number": "4000000000000341"}).status_code == 200
    assert [r.status.value for r in invoicing.close_month(period_of(TWO_MONTHS_AGO))] == ["payment_failed"]
    assert fresh.client.put("/billing/card", json={**CARD, "number": "4242424242424242"}).status_code == 200

    results = invoicing.close_month(period_of(LAST_MONTH))

    assert [(r.period, r.amount_cents, r.status.value) for r in results] == [
        (period_of(TWO_MONTHS_AGO), 1000, "paid"), (period_of(LAST_MONTH), 500, "paid")]
    assert amounts_by_period(fresh.client) == {period_of(TWO_MONTHS_AGO): ("10.00", "paid"),
                                               period_of(LAST_MONTH): ("5.00", "paid")}
    assert total_paid(fresh.client) == Decimal("15.00")
    assert balance(fresh.client) == Decimal("0.00")
