"""The ledger: one transaction, a page of them, their totals, and the filters the transaction
endpoints (list, summary, CSV, daily usage) take."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from credits_tui.api_client.models.account import UserRef
from credits_tui.api_client.models.wire import IsoDateTime, Money, ResponseModel, WireModel


class TransactionType(StrEnum):
    purchase = "purchase"
    usage = "usage"
    auto_recharge = "auto_recharge"
    invoice_payment = "invoice_payment"
    refund = "refund"
    adjustment = "adjustment"


class Transaction(ResponseModel):
    id: int
    created_at: datetime
    transaction_type: TransactionType
    process_type: str | None
    user: UserRef | None
    amount: Money
    balance_after: Money
    description: str
    reference: str | None


class TransactionPage(ResponseModel):
    items: list[Transaction]
    next_cursor: str | None


class TransactionSummary(ResponseModel):
    count: int
    credits_added: Money
    credits_used: Money


class TransactionQuery(WireModel):
    """The filters of the transaction endpoints (list, summary, CSV), as a client sends them."""

    since: IsoDateTime | None = None
    until: IsoDateTime | None = None
    transaction_type: list[TransactionType] = Field(default_factory=list)
    process_type: list[str] = Field(default_factory=list)
    user: str | None = Field(default=None, min_length=1, max_length=254)
    q: str | None = Field(default=None, min_length=1, max_length=200)

    def to_params(self) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = []
        for name in ("since", "until"):
            moment: datetime | None = getattr(self, name)
            if moment is not None:
                params.append((name, moment.isoformat()))
        params += [("transaction_type", t.value) for t in self.transaction_type]
        params += [("process_type", p) for p in self.process_type]
        params += [(name, value) for name in ("user", "q") if (value := getattr(self, name))]
        return params
