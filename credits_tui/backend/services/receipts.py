"""Receipts for the transactions that charged a card (DESIGN.md §8), as JSON and as PDF.

A receipt number is derived from the transaction, ``R-<transaction id>-<account id>``,
rather than drawn from a sequence: it is the same on every request and every server, a GET
never writes, and the ledger's ids are already unique and never reused. Receipts are not
tax invoices, so the gaps between one account's numbers (its usage rows) need no filling.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from credits_tui.api_client.models import (
    AccountRef,
    Receipt,
    ReceiptCard,
    Seller,
    TransactionType,
    cents_to_decimal,
    format_money,
)
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import (
    Account,
    Card,
    Invoice,
    LedgerTransaction,
    Purchase,
    User,
)
from credits_tui.backend.errors import NotFound
from credits_tui.backend.services.transactions import transaction_model

RECEIPT_TYPES = frozenset({TransactionType.purchase.value, TransactionType.auto_recharge.value,
                           TransactionType.invoice_payment.value})
# Until the settings carry the seller (config.py is moving to pydantic-settings), these are it.
SELLER_NAME = "Lead Liaison, LLC"
SELLER_ADDRESS = ("United States",)
_LARGEST_ID = 2**63 - 1


def receipt_number(account_id: int, transaction_id: int) -> str:
    return f"R-{transaction_id:06d}-{account_id}"


class ReceiptService:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.db = database
        self.settings = settings

    def seller(self) -> Seller:
        return Seller(name=SELLER_NAME, address=list(SELLER_ADDRESS), email=self.settings.accounting_email)

    def receipt(self, account_id: int, transaction_id: int) -> Receipt:
        with self.db.read() as session:
            row = session.get(LedgerTransaction, transaction_id) if transaction_id <= _LARGEST_ID else None
            # Another account's transaction is "not found" too: ids are not a way to probe.
            if row is None or row.account_id != account_id or row.transaction_type not in RECEIPT_TYPES:
                raise NotFound("not_found", "There is no receipt for this transaction: receipts are for "
                                            "purchases, auto-recharges and invoice payments of your account.")
            account = session.get_one(Account, account_id)
            user = session.get(User, row.user_id) if row.user_id else None
            amount_cents, card = _charge(session, row)
            return Receipt(
                number=receipt_number(account_id, row.id), transaction=transaction_model(row, user),
                account=AccountRef(id=account.id, name=account.name), card=card,
                amount_usd=cents_to_decimal(amount_cents), issued_at=row.created_at, seller=self.seller(),
            )

    def pdf(self, account_id: int, transaction_id: int) -> tuple[Receipt, bytes]:
        receipt = self.receipt(account_id, transaction_id)
        return receipt, receipt_pdf(receipt)


def _charge(session: Session, row: LedgerTransaction) -> tuple[int, ReceiptCard | None]:
    """What the card was charged, in cents, and which card: from the purchase or the invoice
    the transaction settled; the card on file names the brand (the charge keeps only the
    last four) and stands in when neither record exists (rows loaded in bulk, as the demo's)."""
    amount, last4 = row.amount_cents, None
    if row.transaction_type == TransactionType.invoice_payment.value:
        invoice = session.scalar(select(Invoice).where(Invoice.transaction_id == row.id))
        if invoice is not None:
            amount, last4 = invoice.amount_cents, invoice.card_last4
    else:
        purchase = session.scalar(select(Purchase).where(Purchase.transaction_id == row.id))
        if purchase is not None:
            amount, last4 = purchase.charged_cents, purchase.card_last4
    on_file = session.get(Card, row.account_id)
    if last4 is None:
        return amount, ReceiptCard(brand=on_file.brand, last4=on_file.last4) if on_file else None
    brand = on_file.brand if on_file is not None and on_file.last4 == last4 else "Card"
    return amount, ReceiptCard(brand=brand, last4=last4)


def _latin1(text: str) -> str:
    """The PDF's built-in fonts cover Latin-1; anything else prints as '?', never fails."""
    return text.encode("latin-1", "replace").decode("latin-1")


def receipt_pdf(receipt: Receipt) -> bytes:
    """One A4 page: seller, account, number, time (UTC), description, amount, card."""
    from fpdf import FPDF  # imported on first receipt: it costs every server process 0.6 s at start

    pdf = FPDF(format="A4")
    pdf.set_title(f"Receipt {receipt.number}")
    pdf.set_author(_latin1(receipt.seller.name))
    pdf.set_creator("credits-tui")
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: int = 11, style: str = "", height: float = 6) -> None:
        pdf.set_font("helvetica", style, size)
        pdf.multi_cell(width, height, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    line(receipt.seller.name, 16, "B", 8)
    for address_line in receipt.seller.address:
        line(address_line)
    if receipt.seller.email:
        line(receipt.seller.email)
    pdf.ln(8)
    line("Receipt", 20, "B", 10)
    line(f"Receipt number: {receipt.number}")
    line(f"Date: {receipt.issued_at.strftime('%Y-%m-%d %H:%M:%S')} UTC")
    line(f"Billed to: {receipt.account.name} (account {receipt.account.id})")
    pdf.ln(6)
    line("Description", 11, "B")
    line(receipt.transaction.description)
    line(f"Transaction {receipt.transaction.id} ({receipt.transaction.transaction_type.value.replace('_', ' ')})")
    pdf.ln(6)
    line(f"Amount paid: {format_money(receipt.amount_usd)} USD", 14, "B", 8)
    card = receipt.card
    line(f"Paid with: {card.brand} ending in {card.last4}" if card else "Paid with: card")
    pdf.ln(10)
    line("Thank you. This receipt confirms a payment already made; keep it for your records.", 9)
    return bytes(pdf.output())
