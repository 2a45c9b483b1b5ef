"""How long the balance lasts: pure arithmetic on the daily usage and the account status."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from credits_tui.api_client.models import (
    AccountRef,
    AccountStatus,
    AutoRecharge,
    DailyUsage,
    DailyUsageDay,
)
from credits_tui.runway import (
    average_daily_burn,
    days_left,
    recharge_floor,
    runway_text,
    usage_window,
)


def usage(*credits: str) -> DailyUsage:
    return DailyUsage(days=[DailyUsageDay(date=date(2026, 11, i + 1), process_type="postcard",
                                          credits_used=Decimal(c), quantity=1) for i, c in enumerate(credits)])


def status(balance: str, *, auto: AutoRecharge | None = None) -> AccountStatus:
    return AccountStatus(account=AccountRef(id=1, name="Demo Co."), purchase_credits=Decimal(balance),
                         card_on_file=None, free_quotas=[], auto_recharge=auto or AutoRecharge(enabled=False))


def test_the_burn_averages_over_every_day_of_the_window_used_or_not():
    assert average_daily_burn(usage("10.00", "20.00"), days=30) == Decimal(1)
    assert average_daily_burn(usage(), days=30) == 0
    with pytest.raises(ValueError):
        average_daily_burn(usage("1"), days=0)


def test_days_left_rounds_down_and_says_none_when_nothing_is_used():
    assert days_left(Decimal("100.00"), Decimal("30.00")) == 3
    assert days_left(Decimal("100.00"), Decimal(0)) is None
    assert days_left(Decimal("-5.00"), Decimal("1.00")) == 0
    assert days_left(Decimal("0.50"), Decimal("1.00")) == 0


def test_the_line_says_how_long_the_balance_lasts():
    text = runway_text(status("450.00"), usage("300.00"), days=30)
    assert text == "10.00 credits/day over 30 days · at this rate the balance lasts ≈ 45 days"
    assert runway_text(status("10.00"), usage("300.00")).endswith("lasts ≈ 1 day")
    assert runway_text(status("5.00"), usage("300.00")).endswith("runs out within a day")


def test_zero_burn_does_not_divide_by_zero():
    text = runway_text(status("450.00"), usage())
    assert text.startswith("0.00 credits/day")
    assert "nothing is being used" in text and "≈" not in text


def test_a_negative_balance_asks_for_credits_rather_than_counting_days():
    text = runway_text(status("-12.50"), usage("30.00"))
    assert "negative" in text and "≈" not in text


def test_auto_recharge_keeps_the_balance_above_its_threshold():
    auto = AutoRecharge(enabled=True, threshold=Decimal("200.00"))  # only the fields both shapes share
    assert recharge_floor(status("450.00", auto=auto)) == Decimal("200.00")
    text = runway_text(status("450.00", auto=auto), usage("300.00"))
    assert text.endswith("auto-recharge keeps it above 200.00") and "lasts" not in text
    off = AutoRecharge(enabled=False, threshold=Decimal("200.00"))
    assert recharge_floor(status("450.00", auto=off)) is None


def test_the_window_is_the_last_30_calendar_days_utc_today_included():
    first, since = usage_window(datetime(2026, 11, 28, 23, 30, tzinfo=timezone.utc))
    assert first == date(2026, 10, 30)
    assert since == datetime(2026, 10, 30, tzinfo=timezone.utc)
