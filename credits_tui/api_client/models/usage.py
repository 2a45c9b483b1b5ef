"""What using the service costs and what it used: prices, free monthly quotas, recording
usage, and usage per day (DESIGN.md §8)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from credits_tui.api_client.models.transactions import Transaction
from credits_tui.api_client.models.wire import Money, ResponseModel, WireModel


class BillingMode(StrEnum):
    prepaid = "prepaid"
    invoice = "invoice"


class ProcessTypePrice(ResponseModel):
    process_type: str
    label: str
    unit_price: Money
    billing: BillingMode
    free_quota: int = Field(description="units free each calendar month (UTC)")


class PriceCatalog(ResponseModel):
    items: list[ProcessTypePrice]


class FreeQuota(ResponseModel):
    process_type: str
    used: int
    limit: int
    resets_at: datetime


class UsageRequest(WireModel):
    process_type: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=100_000, strict=True)  # strict: true or "5" is not a quantity
    reference: str | None = Field(default=None, max_length=200)


class UsageResult(ResponseModel):
    process_type: str
    quantity: int
    free_quantity: int = Field(description="units covered by the free monthly quota")
    charged_quantity: int
    amount: Money = Field(description="credits used, non-negative")
    transaction: Transaction | None = Field(description="null when the free quota covered it all")
    purchase_credits: Money


UtcDay = Annotated[date, Field(description="a calendar day, UTC")]


class DailyUsageDay(ResponseModel):
    date: UtcDay
    process_type: str
    credits_used: Money = Field(description="credits the day's usage of this process type took, non-negative")
    quantity: int = Field(description="units charged (free-quota units are not transactions)")


class DailyUsage(ResponseModel):
    """Usage per day and process type, oldest day first; days without usage are left out."""

    days: list[DailyUsageDay]
    currency: Literal["credits"] = "credits"
