"""What needs someone's attention now (DESIGN.md §9 "Warnings"), from data the app already has.

Pure: the account status, the alert settings and the time in, a list of warnings out. Each
warning says what is wrong and what to do about it; it lasts as long as its condition, so
it goes away by itself once resolved. No Textual here: Status, the header line and tests
read the same list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from credits_tui.api_client.models import (
    AUTO_RECHARGE_MAX_FAILURES,
    AccountStatus,
    CardSummary,
    NotificationSettings,
)
from credits_tui.formatting import card_label, credits_text

CARD_EXPIRY_NOTICE = timedelta(days=30)  # the same window as the server's card_expiring notification


class WarningKind(StrEnum):
    balance_negative = "balance_negative"
    balance_low = "balance_low"
    card_expired = "card_expired"
    card_expiring = "card_expiring"
    auto_recharge_off = "auto_recharge_off"
    auto_recharge_failing = "auto_recharge_failing"
    quota_used_up = "quota_used_up"


@dataclass(frozen=True)
class AccountWarning:
    kind: WarningKind
    title: str  # short, for the one-line header
    detail: str  # what is wrong, with the figures
    action: str  # what to do about it


def card_expiry_end(card: CardSummary) -> tuple[int, int]:
    """(year, month) of the first month after the card's expiry month: it works until then."""
    return (card.exp_year + 1, 1) if card.exp_month == 12 else (card.exp_year, card.exp_month + 1)


def current_warnings(status: AccountStatus, alerts: NotificationSettings | None, now: datetime,
                     labels: dict[str, str] | None = None) -> list[AccountWarning]:
    """Every warning that holds for ``status`` at ``now`` (aware), most urgent first.

    ``alerts`` None (not loaded) means no low-balance threshold is known; ``labels`` names
    process types (``smart_match`` → ``Smart Match``) for the quota warnings.
    """
    return [*_balance(status, alerts), *_card(status, now), *_auto_recharge(status), *_quotas(status, labels)]


def _balance(status: AccountStatus, alerts: NotificationSettings | None) -> list[AccountWarning]:
    balance = status.purchase_credits
    top_up = "Add credits on Buy Credits" if status.auto_recharge.enabled else "Add credits or turn on auto-recharge"
    if balance < 0:
        return [AccountWarning(WarningKind.balance_negative, "Balance negative",
                               f"The balance is negative ({credits_text(balance)} credits).", top_up)]
    threshold = alerts.low_balance_threshold if alerts is not None else None
    if threshold is not None and balance < threshold:
        return [AccountWarning(WarningKind.balance_low, "Balance low",
                               f"The balance ({credits_text(balance)} credits) is below the alert threshold "
                               f"of {credits_text(threshold)}.", top_up)]
    return []


def _card(status: AccountStatus, now: datetime) -> list[AccountWarning]:
    card = status.card_on_file
    if card is None:
        return []
    year, month = card_expiry_end(card)
    ends = datetime(year, month, 1, tzinfo=now.tzinfo)
    name = card_label(card.brand, card.last4)
    expiry = f"{card.exp_month:02d}/{card.exp_year}"
    if now >= ends:
        return [AccountWarning(WarningKind.card_expired, "Card expired",
                               f"The {name} expired ({expiry}): purchases and auto-recharge will fail.",
                               "Update the card on Billing")]
    if now >= ends - CARD_EXPIRY_NOTICE:
        return [AccountWarning(WarningKind.card_expiring, "Card expiring",
                               f"The {name} expires at the end of {expiry}.", "Update the card on Billing")]
    return []


def _auto_recharge(status: AccountStatus) -> list[AccountWarning]:
    rule = status.auto_recharge
    why = f" Last: {rule.last_failure.message}" if rule.last_failure and rule.last_failure.message else ""
    if not rule.enabled and rule.consecutive_failures >= AUTO_RECHARGE_MAX_FAILURES:
        return [AccountWarning(WarningKind.auto_recharge_off, "Auto-recharge turned off",
                               f"Auto-recharge turned itself off after {rule.consecutive_failures} failed "
                               f"charges.{why}", "Fix the card on Billing and turn auto-recharge on again")]
    if rule.enabled and rule.consecutive_failures > 0:
        times = "once" if rule.consecutive_failures == 1 else f"{rule.consecutive_failures} times in a row"
        return [AccountWarning(WarningKind.auto_recharge_failing, "Auto-recharge failing",
                               f"Auto-recharge failed {times}.{why}", "Update the card on Billing")]
    return []


def _quotas(status: AccountStatus, labels: dict[str, str] | None) -> list[AccountWarning]:
    used_up = [quota for quota in status.free_quotas if quota.limit > 0 and quota.used >= quota.limit]
    if not used_up:
        return []
    # One warning for all of them: they reset together, at the start of the month.
    names = ", ".join(f"{(labels or {}).get(quota.process_type) or quota.process_type.replace('_', ' ').capitalize()}"
                      f" ({quota.limit:,})" for quota in used_up)
    plural = "s" if len(used_up) > 1 else ""
    return [AccountWarning(WarningKind.quota_used_up, f"Free quota{plural} used up",
                           f"Free monthly quota{plural} used up: {names}.",
                           f"Further use is charged to the balance until {min(q.resets_at for q in used_up):%b %d}")]


__all__ = ["AccountWarning", "WarningKind", "card_expiry_end", "current_warnings"]
