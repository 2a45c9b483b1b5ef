"""How fast the credits go and how long the balance lasts (DESIGN.md §9). Pure: no Textual, no I/O."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_FLOOR, Decimal

from credits_tui.api_client.models import AccountStatus, DailyUsage
from credits_tui.formatting import credits_text

WINDOW_DAYS = 30


def usage_window(now: datetime, days: int = WINDOW_DAYS) -> tuple[date, datetime]:
    """The first day and its midnight (UTC) of the last ``days`` calendar days, today included."""
    first = now.astimezone(timezone.utc).date() - timedelta(days=days - 1)
    return first, datetime.combine(first, time(), tzinfo=timezone.utc)


def average_daily_burn(usage: DailyUsage, days: int = WINDOW_DAYS) -> Decimal:
    """Credits used per day over a window of ``days`` days (days without usage count as zero)."""
    if days <= 0:
        raise ValueError("a window has at least one day")
    return sum((day.credits_used for day in usage.days), Decimal(0)) / days


def days_left(balance: Decimal, burn: Decimal) -> int | None:
    """Whole days the balance lasts at ``burn`` credits a day; None when nothing is used."""
    if burn <= 0:
        return None
    if balance <= 0:
        return 0
    return int((balance / burn).to_integral_value(ROUND_FLOOR))


def recharge_floor(status: AccountStatus) -> Decimal | None:
    """The balance auto-recharge keeps the account above, or None when it is off."""
    recharge = status.auto_recharge
    return recharge.threshold if recharge.enabled else None


def runway_text(status: AccountStatus, usage: DailyUsage, days: int = WINDOW_DAYS) -> str:
    """``12.34 credits/day over 30 days · at this rate the balance lasts ≈ 45 days`` (fits 80 columns)."""
    burn = average_daily_burn(usage, days)
    said = f"{credits_text(burn.quantize(Decimal('0.01')))} credits/day over {days} days"
    floor = recharge_floor(status)
    if floor is not None:
        return f"{said} · auto-recharge keeps it above {credits_text(floor)}"
    balance = status.purchase_credits
    if balance < 0:
        return f"{said} · the balance is negative: buy credits to keep paid processes running"
    left = days_left(balance, burn)
    if left is None:
        return f"{said} · nothing is being used, so the balance stays as it is"
    if left == 0:
        return f"{said} · at this rate the balance runs out within a day"
    return f"{said} · at this rate the balance lasts ≈ {left:,} day{'' if left == 1 else 's'}"
