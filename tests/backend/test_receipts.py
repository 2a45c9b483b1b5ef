"""Receipts for every charge to a card: purchase, auto-recharge, invoice payment (DESIGN.md §8)."""

from __future__ import annotations

import io
import re
import uuid
from datetime import datetime, timezone

import pypdf
import pytest
from sqlalchemy import select

from credits_tui.api_client.models import InvoiceStatus, TransactionType
from credits_tui.backend.db.engine import lock_account
from credits_tui.backend.db.schema import Account, Invoice, User
from credits_tui.backend.services import ledger

ADMIN, SUPPORT, MEMBER, OTHER_ADMIN = ("admin@demo.example", "support@demo.example", "member@demo.example",
                                       "other-admin@demo.example")
NUMBER = re.compile(r"^R-\d{6,}-\d+$")


def buy(client, amount: str) -> dict:
    response = client.post("/credits/purchases", json={"amount": amount},
                           headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    return response.json()


def receipt(client, transaction_id: int) -> dict:
    response = client.get(f"/billing/receipts/{transaction_id}")
    assert response.status_code == 200, response.text
    return response.json()


def pdf_text(client, transaction_id: int) -> str:
    response = client.get(f"/billing/receipts/{transaction_id}.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def append(database, email: str, kind: TransactionType, cents: int, description: str) -> int:
    """A charge no service makes yet (auto-recharge), or one on another account, via the ledger."""
    with database.write() as session:
        user = session.scalar(select(User).where(User.email == email))
        account = lock_account(session, user.account_id)
        return ledger.append(session, account, transaction_type=kind, amount_cents=cents,
                             description=description, reference=f"ch_test_{uuid.uuid4().hex[:8]}").id


def test_a_purchase_has_a_receipt_and_a_pdf(module_api):
    admin = module_api.signed(ADMIN)
    bought = buy(admin, "37.45")
    transaction = bought["transaction"]
    found = receipt(admin, transaction["id"])
    assert NUMBER.match(found["number"]) and str(transaction["id"]) in found["number"]
    assert found["transaction"] == transaction
    assert found["amount_usd"] == "37.45"
    assert found["card"] == {"brand": "visa", "last4": "4242"}
    assert found["account"]["name"] == "Demo Co."
    assert found["issued_at"] == transaction["created_at"]
    assert found["seller"]["name"] == "Lead Liaison, LLC"
    assert receipt(admin, transaction["id"]) == found, "the number and content are stable"

    text = pdf_text(admin, transaction["id"])
    for expected in ("37.45", "4242", found["number"], "Demo Co.", "Lead Liaison, LLC", "Purchase of 37.45 credits",
                     "UTC"):
        assert expected in text, (expected, text)
    assert "4242424242424242" not in text.replace(" ", "")


def test_support_reads_receipts_and_a_member_cannot(module_api):
    transaction_id = buy(module_api.signed(ADMIN), "5.00")["transaction"]["id"]
    assert receipt(module_api.signed(SUPPORT), transaction_id)["amount_usd"] == "5.00"
    member = module_api.signed(MEMBER)
    for path in (f"/billing/receipts/{transaction_id}", f"/billing/receipts/{transaction_id}.pdf"):
        response = member.get(path)
        assert response.status_code == 403 and response.json()["error"]["code"] == "admin_required"


def test_an_auto_recharge_has_a_receipt_on_the_card_on_file(module_api):
    transaction_id = append(module_api.database, ADMIN, TransactionType.auto_recharge, 100_000,
                            "Auto-recharge of 1000.00 credits")
    found = receipt(module_api.signed(ADMIN), transaction_id)
    assert found["transaction"]["transaction_type"] == "auto_recharge"
    assert found["amount_usd"] == "1000.00" and found["card"] == {"brand": "visa", "last4": "4242"}
    text = pdf_text(module_api.signed(ADMIN), transaction_id)
    assert "1000.00" in text and "4242" in text and "auto recharge" in text


def test_an_invoice_payment_names_the_card_the_invoice_was_charged_to(module_api):
    """The card that paid, even when the card on file has changed since."""
    transaction_id = append(module_api.database, ADMIN, TransactionType.invoice_payment, 4_375,
                            "Payment of the 2026-09 transcription invoice")
    with module_api.database.write() as session:
        account_id = session.scalar(select(User.account_id).where(User.email == ADMIN))
        paid_at = datetime.now(timezone.utc)
        session.add(Invoice(account_id=account_id, period="2001-01", amount_cents=4_375,
                            status=InvoiceStatus.paid.value, card_last4="1881", gateway_charge_id="ch_old_card",
                            transaction_id=transaction_id, created_at=paid_at, paid_at=paid_at))
    admin = module_api.signed(ADMIN)
    found = receipt(admin, transaction_id)
    assert found["amount_usd"] == "43.75"
    assert found["card"] == {"brand": "Card", "last4": "1881"}  # not the 4242 now on file
    text = pdf_text(admin, transaction_id)
    assert "43.75" in text and "1881" in text and "4242" not in text


def test_usage_and_unknown_transactions_have_no_receipt(module_api):
    admin = module_api.signed(ADMIN)
    usage = admin.get("/credits/transactions", params={"transaction_type": "usage", "limit": 1}).json()["items"][0]
    for transaction_id in (usage["id"], 987_654_321, 2**70):
        for suffix in ("", ".pdf"):
            response = admin.get(f"/billing/receipts/{transaction_id}{suffix}")
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "not_found"


def test_another_accounts_receipt_is_not_found(module_api):
    theirs = append(module_api.database, OTHER_ADMIN, TransactionType.purchase, 2_500, "Purchase of 25.00 credits")
    for suffix in ("", ".pdf"):
        response = module_api.signed(ADMIN).get(f"/billing/receipts/{theirs}{suffix}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    own = receipt(module_api.signed(OTHER_ADMIN), theirs)
    assert own["account"]["name"] == "Other Co." and own["card"] is None  # Other Co. has no card at all
    assert "25.00" in pdf_text(module_api.signed(OTHER_ADMIN), theirs)


@pytest.mark.parametrize("path", ["/billing/receipts/abc", "/billing/receipts/12.csv", "/billing/receipts/-3"])
def test_a_malformed_receipt_address_is_not_found(module_api, path):
    response = module_api.signed(ADMIN).get(path)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_the_pdf_survives_text_outside_latin_1(module_api):
    with module_api.database.write() as session:
        account = session.scalar(select(Account).where(Account.name == "Other Co."))
        account.name = "Other Co. 東京 — ✓"
    try:
        theirs = append(module_api.database, OTHER_ADMIN, TransactionType.purchase, 1_000, "Purchase of 10.00 credits")
        assert "10.00" in pdf_text(module_api.signed(OTHER_ADMIN), theirs)
    finally:
        with module_api.database.write() as session:
            session.scalar(select(Account).where(Account.name.like("Other Co.%"))).name = "Other Co."
