"""``credits-tui audit`` and the client's audit methods, against the real backend on loopback
(the audit log's own behaviour is in tests/backend/test_audit.py)."""
# The CLI fixtures are tests/support/cli.py's, imported: pytest finds them by the argument names.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid

import pytest

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import AuditAction, AuditQuery
from tests.support import loopback_http
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


def served(raw, token: str, **params) -> list[dict]:
    response = raw.get("/account/audit", token, params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.fixture
def bought(raw, admin_token) -> dict:
    """A purchase and a CSV export by the admin: rows of two more actions."""
    with loopback_http(timeout=10) as http:
        response = http.post(f"{raw.api_url}/credits/purchases", json={"amount": "7.25"},
                             headers={"Authorization": f"Bearer {admin_token}", "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    assert raw.get("/credits/transactions.csv", admin_token).status_code == 200
    return response.json()


def test_json_is_the_servers_rows_newest_first(signed_in, admin_token, raw, bought):
    result = signed_in.run("audit", "--format", "json", "--limit", "4")
    assert result.code == 0, result.stderr
    items = json.loads(result.stdout)
    assert items == served(raw, admin_token)[:4]
    assert items[0]["action"] == "transactions.export_csv"
    assert items[1]["action"] == "purchase.create"
    assert items[1]["detail"]["amount"] == "7.25" and items[1]["actor"]["email"] == ADMIN


def test_csv_has_a_header_and_every_matching_row(signed_in, admin_token, raw, bought):
    result = signed_in.run("audit", "--format", "csv", "--action", "purchase.create", "--action", "auth.sign_in")
    assert result.code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = served(raw, admin_token, action=["purchase.create", "auth.sign_in"])
    assert [int(row["id"]) for row in rows] == [item["id"] for item in expected]
    assert {row["action"] for row in rows} == {"purchase.create", "auth.sign_in"}
    purchase = next(row for row in rows if row["action"] == "purchase.create")
    assert purchase["actor_email"] == ADMIN and purchase["outcome"] == "success"
    assert "amount=7.25" in purchase["detail"] and "last4=4242" in purchase["detail"]


def test_the_table_shows_who_did_what(signed_in, bought):
    result = signed_in.run("audit", "--actor", ADMIN, "--since", "1d")
    assert result.code == 0, result.stderr
    assert "purchase.create" in result.stdout and "auth.sign_in" in result.stdout
    assert ADMIN in result.stdout and "amount=7.25" in result.stdout


def test_nothing_matching_says_so(signed_in):
    result = signed_in.run("audit", "--since", "2000-01-01", "--until", "2000-01-02")
    assert result.code == 0, result.stderr
    assert "No audit events match." in result.stderr


@pytest.mark.parametrize("args", [["audit", "--action", "card.burn"], ["audit", "--since", "yesterday-ish"],
                                  ["audit", "--limit", "0"], ["audit", "--format", "xml"]])
def test_bad_arguments_are_usage_errors(signed_in, args):
    result = signed_in.run(*args)
    assert result.code == 2, result.stderr
    line = result.one_line_error()
    if "card.burn" in args:
        assert "auth.sign_in" in line  # names the actions there are


def test_support_is_refused_in_one_line(cli):
    cli.login(SUPPORT)
    result = cli.run("audit")
    assert result.code == 1 and "Only administrators" in result.one_line_error()


def test_the_client_pages_through_the_audit_log(api_url, raw, bought):
    token, support_token = raw.token(ADMIN), raw.token(SUPPORT)

    async def scenario():
        async with CreditsClient(api_url.removesuffix("/api/v1"), token) as client:
            every = [event async for event in client.iter_audit(page_size=2)]
            first = await client.audit(AuditQuery(action=[AuditAction.purchase_create]), limit=1)
            async with CreditsClient(api_url.removesuffix("/api/v1"), support_token) as support:
                with pytest.raises(errors.ForbiddenError):
                    await support.audit()
            return every, first

    every, first = asyncio.run(scenario())
    assert [event.model_dump(mode="json") for event in every] == served(raw, token)
    assert [event.action for event in first.items] == ["purchase.create"]
