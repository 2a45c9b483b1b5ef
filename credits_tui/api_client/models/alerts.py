"""Never run out: the auto-recharge rule, low-balance alerts and the notifications sent
(DESIGN.md §7)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from credits_tui.api_client.models.wire import Money, ResponseModel, WireModel

AUTO_RECHARGE_MAX_FAILURES = 3
# The smallest charge: a rule's recharge-to is at least this far above its threshold, so that
# one charge lands on it from just under the threshold.
AUTO_RECHARGE_MIN_CHARGE = Decimal("1.00")



def recharge_to_problem(threshold: Decimal, recharge_to: Decimal, *, enabled: bool) -> str | None:
    """Why ``recharge_to`` cannot go with ``threshold``, or None: the server's rule, which the app
    checks as it is typed. Above the threshold always; while the rule is on, by at least the
    smallest charge. (The largest purchase, the server's setting, only the server checks.)"""
    if recharge_to <= threshold:
        return "Recharge to an amount above the threshold."
    if enabled and recharge_to - threshold < AUTO_RECHARGE_MIN_CHARGE:
        return f"Recharge to at least {AUTO_RECHARGE_MIN_CHARGE} credit above the threshold."
    return None

class AutoRechargeFailure(ResponseModel):
    at: datetime
    code: str = Field(description="card_declined, insufficient_funds, expired_card, processing_error")
    message: str


class AutoRecharge(ResponseModel):
    """The auto-recharge rule (DESIGN.md §7). Off with ``consecutive_failures`` ≥ 3 means the
    rule turned itself off after failed charges."""

    enabled: bool
    threshold: Money | None = None
    recharge_to: Money | None = None
    last_failure: AutoRechargeFailure | None = None
    consecutive_failures: int = 0


class AutoRechargeUpdate(WireModel):
    """PUT /billing/auto-recharge: the whole rule. Turning it on needs both amounts."""

    enabled: bool
    threshold: Money | None = None
    recharge_to: Money | None = None


class NotificationSettings(ResponseModel):
    low_balance_threshold: Money | None
    recipients: list[int] = Field(description="user ids of the account told about events")


class NotificationSettingsUpdate(WireModel):
    low_balance_threshold: Money | None = None
    recipients: list[int] = Field(max_length=100)


class NotificationKind(StrEnum):
    low_balance = "low_balance"
    auto_recharge_failed = "auto_recharge_failed"
    auto_recharge_disabled = "auto_recharge_disabled"
    purchase_receipt = "purchase_receipt"
    invoice_paid = "invoice_paid"
    invoice_failed = "invoice_failed"
    card_expiring = "card_expiring"


class Notification(ResponseModel):
    id: int
    created_at: datetime
    kind: NotificationKind
    subject: str
    body: str
    recipients: list[str] = Field(description="email addresses, as of the event")
    delivered_at: datetime | None = Field(description="null while pending, or when no SMTP server is configured")


class NotificationPage(ResponseModel):
    items: list[Notification]
    next_cursor: str | None
