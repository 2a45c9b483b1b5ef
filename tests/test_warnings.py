"""The account's warnings, worked out from the status, the alert settings and the time."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from credits_tui.api_client.models import AccountStatus, NotificationSettings
from credits_tui.warnings import WarningKind, current_warnings

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
ALERT_AT_250 = NotificationSettings(low_balance_threshold=Decimal("250.00"), recipients=[1])


def status(**changes: Any) -> AccountStatus:
    """A healthy account (nothing to warn about), with ``changes`` applied."""
    body: dict[str, Any] = {
        "account": {"id": 1, "name": "Demo Co."},
        "purchase_credits": "1000.00",
        "card_on_file": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2029,
                         "cardholder_name": "Ada", "updated_at": "2026-01-01T00:00:00Z",
                         "billing_address": {"line1": "1 Way", "city": "Chicago", "postal_code": "60601",
                                             "country": "US"}},
        "free_quotas": [{"process_type": "smart_match", "used": 10, "limit": 500,
                         "resets_at": "2026-12-01T00:00:00Z"}],
        "auto_recharge": {"enabled": True, "threshold": "500.00", "recharge_to": "2000.00",
                          "last_failure": None, "consecutive_failures": 0},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return AccountStatus.model_validate(body)


def kinds(account: AccountStatus, alerts: NotificationSettings | None = ALERT_AT_250,
          now: datetime = NOW) -> list[WarningKind]:
    return [warning.kind for warning in current_warnings(account, alerts, now)]


def test_a_healthy_account_has_no_warnings():
    assert kinds(status()) == []


def test_balance_below_the_alert_threshold_until_it_is_back_at_it():
    low = current_warnings(status(purchase_credits="249.99"), ALERT_AT_250, NOW)
    assert [w.kind for w in low] == [WarningKind.balance_low]
    assert "249.99" in low[0].detail and "250.00" in low[0].detail
    assert low[0].action == "Add credits on Buy Credits"  # auto-recharge is on already
    assert kinds(status(purchase_credits="250.00")) == []
    assert kinds(status(purchase_credits="10.00"), alerts=None) == []  # no threshold known
    off = status(purchase_credits="10.00", auto_recharge={"enabled": False})
    assert current_warnings(off, ALERT_AT_250, NOW)[0].action == "Add credits or turn on auto-recharge"


def test_a_negative_balance_is_one_warning_with_or_without_a_threshold():
    assert kinds(status(purchase_credits="-3.25")) == [WarningKind.balance_negative]
    assert kinds(status(purchase_credits="-3.25"), alerts=None) == [WarningKind.balance_negative]


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2029, 12, 1, 23, 59, tzinfo=timezone.utc), []),  # 30 days and a minute before the end of 12/2029
    (datetime(2029, 12, 2, 0, 0, tzinfo=timezone.utc), [WarningKind.card_expiring]),
    (datetime(2029, 12, 31, 23, 59, tzinfo=timezone.utc), [WarningKind.card_expiring]),
    (datetime(2030, 1, 1, 0, 0, tzinfo=timezone.utc), [WarningKind.card_expired]),
])
def test_card_expiring_within_30_days_of_the_end_of_its_month_then_expired(now, expected):
    assert kinds(status(), now=now) == expected


def test_no_card_no_card_warning():
    assert kinds(status(card_on_file=None)) == []


def test_auto_recharge_failing_then_turned_off_after_three_failures():
    failure = {"at": "2026-11-28T10:00:00Z", "code": "card_declined", "message": "Your card was declined."}
    failing = current_warnings(status(auto_recharge={"consecutive_failures": 2, "last_failure": failure}),
                               ALERT_AT_250, NOW)
    assert [w.kind for w in failing] == [WarningKind.auto_recharge_failing]
    assert "2 times in a row" in failing[0].detail and "Your card was declined." in failing[0].detail
    assert failing[0].action == "Update the card on Billing"
    off = current_warnings(status(auto_recharge={"enabled": False, "consecutive_failures": 3,
                                                 "last_failure": failure}), ALERT_AT_250, NOW)
    assert [w.kind for w in off] == [WarningKind.auto_recharge_off]
    assert "turned itself off after 3 failed charges" in off[0].detail
    # Turned back on (the server resets the count): nothing to warn about, though the failure is on record.
    assert kinds(status(auto_recharge={"last_failure": failure})) == []
    # Turned off by a person, not by failures: no warning.
    assert kinds(status(auto_recharge={"enabled": False, "consecutive_failures": 1})) == []


def test_a_used_up_free_quota_names_its_process_type():
    account = status(free_quotas=[{"process_type": "smart_match", "used": 500, "limit": 500,
                                   "resets_at": "2026-12-01T00:00:00Z"}])
    [warning] = current_warnings(account, ALERT_AT_250, NOW, {"smart_match": "Smart Match"})
    assert warning.kind is WarningKind.quota_used_up
    assert "Smart Match (500)" in warning.detail and "until Dec 01" in warning.action


def test_used_up_quotas_are_one_warning():
    account = status(free_quotas=[
        {"process_type": "smart_match", "used": 500, "limit": 500, "resets_at": "2026-12-01T00:00:00Z"},
        {"process_type": "postcard_scan", "used": 1001, "limit": 1000, "resets_at": "2026-12-01T00:00:00Z"},
        {"process_type": "letter", "used": 999, "limit": 1000, "resets_at": "2026-12-01T00:00:00Z"},
    ])
    [warning] = current_warnings(account, ALERT_AT_250, NOW)
    assert warning.detail == "Free monthly quotas used up: Smart match (500), Postcard scan (1,000)."


def test_most_urgent_first():
    account = status(purchase_credits="-1.00", card_on_file={"exp_month": 11, "exp_year": 2026},
                     free_quotas=[{"process_type": "smart_match", "used": 500, "limit": 500,
                                   "resets_at": "2026-12-01T00:00:00Z"}])
    assert kinds(account) == [WarningKind.balance_negative, WarningKind.card_expiring, WarningKind.quota_used_up]
