"""The balance and buying credits: the account's status at a glance and a purchase."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from credits_tui.api_client.models.account import AccountRef
from credits_tui.api_client.models.alerts import AutoRecharge
from credits_tui.api_client.models.cards import CardSummary
from credits_tui.api_client.models.transactions import Transaction
from credits_tui.api_client.models.usage import FreeQuota
from credits_tui.api_client.models.wire import Money, ResponseModel, WireModel

MINIMUM_PURCHASE = Decimal("1.00")


def _at_least_minimum_purchase(value: Decimal) -> Decimal:
    if value < MINIMUM_PURCHASE:
        raise PydanticCustomError(
            "amount_below_minimum", "The minimum purchase is 1.00 credit."
        )
    return value


PurchaseAmount = Annotated[Money, AfterValidator(_at_least_minimum_purchase)]


class AccountStatus(ResponseModel):
    account: AccountRef
    purchase_credits: Money
    card_on_file: CardSummary | None
    free_quotas: list[FreeQuota]
    auto_recharge: AutoRecharge
    max_purchase: Money | None = Field(default=None, description="the largest purchase this server takes")


class PurchaseRequest(WireModel):
    amount: PurchaseAmount


class Purchase(ResponseModel):
    id: int
    amount: Money
    charged_usd: Money
    card_last4: str
    created_at: datetime


class PurchaseResult(ResponseModel):
    purchase: Purchase
    transaction: Transaction
    purchase_credits: Money
