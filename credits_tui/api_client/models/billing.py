"""What the account is billed and paid: monthly invoices and receipts (DESIGN.md §9)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from credits_tui.api_client.models.account import AccountRef
from credits_tui.api_client.models.transactions import Transaction
from credits_tui.api_client.models.wire import Money, ResponseModel


class InvoiceStatus(StrEnum):
    paid = "paid"
    payment_failed = "payment_failed"


class InvoiceLine(ResponseModel):
    process_type: str | None
    description: str
    quantity: int
    amount: Money


class Invoice(ResponseModel):
    id: int
    period: str = Field(description="the month invoiced, YYYY-MM")
    amount: Money
    status: InvoiceStatus
    card_last4: str | None
    failure_message: str | None = None
    created_at: datetime
    paid_at: datetime | None
    lines: list[InvoiceLine]


class InvoiceList(ResponseModel):
    items: list[Invoice]


class ReceiptCard(ResponseModel):
    brand: str
    last4: str


class Seller(ResponseModel):
    name: str
    address: list[str] = Field(description="postal address, one line per item")
    email: str | None = None


class Receipt(ResponseModel):
    number: str = Field(description="stable and unique, e.g. R-000001-00001234")
    transaction: Transaction
    account: AccountRef
    card: ReceiptCard | None = Field(description="the card charged; null when no card is known")
    amount_usd: Money
    issued_at: datetime
    seller: Seller
