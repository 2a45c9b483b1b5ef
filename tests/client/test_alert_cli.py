"""``credits-tui auto-recharge``, ``alerts`` and ``balance --fail-below`` against the real backend
on loopback (the rules themselves are tested in tests/backend/test_auto_recharge.py and
test_notifications.py)."""
# The CLI fixtures are tests/support/cli.py's, imported: pytest finds them by the argument names.
# ruff: noqa: F811

from __future__ import annotations

import json
from decimal import Decimal

from tests.support.backend import ADMIN, SUPPORT
from tests.support.cli import (  # noqa: F401
    admin_token,
    api_url,
    cli,
    raw,
    secret_service,
    server,
    signed_in,
)


def test_auto_recharge_on_off_and_json(signed_in, admin_token, raw):
    turned = signed_in.run("auto-recharge", "--on", "--threshold", "500", "--recharge-to", "2,000")
    assert turned.code == 0, turned.stderr
    assert turned.stdout.strip() == ("Auto-recharge: on. Below 500.00 credits, the card on file recharges "
                                     "the balance to 2,000.00.")
    server_side = raw.get("/billing/auto-recharge", admin_token).json()
    assert (server_side["enabled"], server_side["threshold"], server_side["recharge_to"]) == (True, "500.00",
                                                                                             "2000.00")
    off = signed_in.run("auto-recharge", "--off", "--json")
    assert off.code == 0, off.stderr
    assert json.loads(off.stdout) == raw.get("/billing/auto-recharge", admin_token).json()
    assert json.loads(off.stdout)["enabled"] is False
    assert json.loads(off.stdout)["threshold"] == "500.00"  # --off keeps the amounts


def test_auto_recharge_refusals_are_one_line(signed_in):
    refused = signed_in.run("auto-recharge", "--on", "--threshold", "50", "--recharge-to", "40")
    assert refused.code == 1
    assert "above the threshold" in refused.one_line_error()
    typo = signed_in.run("auto-recharge", "--threshold", "fifty")
    assert typo.code == 2 and "--threshold" in typo.stderr


def test_alerts_map_emails_to_users_and_back(signed_in, admin_token, raw):
    users = {u["email"]: u["id"] for u in raw.get("/account/users", admin_token).json()["items"]}
    changed = signed_in.run("alerts", "--below", "250", "--recipient", ADMIN, "--recipient", SUPPORT.upper())
    assert changed.code == 0, changed.stderr
    lines = changed.stdout.splitlines()
    assert lines[0] == "Low-balance alert: below 250.00 credits"
    assert ADMIN in lines[1] and SUPPORT in lines[1]
    assert raw.get("/billing/notifications", admin_token).json() == {
        "low_balance_threshold": "250.00", "recipients": [users[ADMIN], users[SUPPORT]]}
    cleared = signed_in.run("alerts", "--no-below", "--json")
    assert json.loads(cleared.stdout) == {"low_balance_threshold": None, "recipients": [users[ADMIN], users[SUPPORT]]}
    stranger = signed_in.run("alerts", "--recipient", "nobody@else.example")
    assert stranger.code == 1 and "nobody@else.example" in stranger.one_line_error()
    both = signed_in.run("alerts", "--below", "1", "--no-below")
    assert both.code == 2


def test_balance_fail_below_exits_3_with_one_line(signed_in, admin_token, raw):
    balance = raw.balance(admin_token)
    above = signed_in.run("balance", "--fail-below", f"{balance:.2f}")
    assert above.code == 0, above.stderr
    below = signed_in.run("balance", "--fail-below", f"{balance + Decimal('0.01'):.2f}")
    assert below.code == 3
    assert "below" in below.one_line_error()
    assert "Purchase Credits" in below.stdout  # the usual report still goes to stdout
    as_json = signed_in.run("balance", "--json", "--fail-below", f"{balance + 1:.2f}")
    assert as_json.code == 3 and Decimal(json.loads(as_json.stdout)["purchase_credits"]) == balance
