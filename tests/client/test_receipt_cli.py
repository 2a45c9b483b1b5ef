"""``credits-tui receipt`` and the client's receipt and daily-usage methods, against the real
backend on loopback (the backend's own behaviour is in tests/backend/test_receipts.py)."""
# The CLI fixtures are tests/support/cli.py's, imported: pytest finds them by the argument names.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import io
import json

import pypdf
import pytest

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import TransactionQuery
from tests.support.backend import ADMIN, MEMBER
from tests.support.cli import (  # noqa: F401
    admin_token,
    api_url,
    cli,
    raw,
    secret_service,
    server,
    signed_in,
)


def first_id(raw, token: str, transaction_type: str) -> int:
    response = raw.get("/credits/transactions", token, params={"transaction_type": transaction_type, "limit": 1})
    return response.json()["items"][0]["id"]


def test_receipt_as_text_and_json(signed_in, admin_token, raw):
    transaction_id = first_id(raw, admin_token, "purchase")
    expected = raw.get(f"/billing/receipts/{transaction_id}", admin_token).json()

    text = signed_in.run("receipt", str(transaction_id))
    assert text.code == 0, text.stderr
    assert expected["number"] in text.stdout and "4242" in text.stdout
    assert f"{expected['amount_usd']} USD" in text.stdout.replace(",", "")

    as_json = signed_in.run("receipt", str(transaction_id), "--json")
    assert as_json.code == 0, as_json.stderr
    assert json.loads(as_json.stdout) == expected


def test_receipt_saved_as_pdf(signed_in, admin_token, raw, tmp_path):
    transaction_id = first_id(raw, admin_token, "purchase")
    amount = raw.get(f"/billing/receipts/{transaction_id}", admin_token).json()["amount_usd"]
    target = tmp_path / "receipt.pdf"
    result = signed_in.run("receipt", str(transaction_id), "--pdf", str(target))
    assert result.code == 0, result.stderr
    assert result.stdout == "" and str(target) in result.stderr
    text = pypdf.PdfReader(target).pages[0].extract_text()
    assert amount in text and "4242" in text


def test_no_receipt_for_a_usage_row_is_one_line_and_writes_no_file(signed_in, admin_token, raw, tmp_path):
    target = tmp_path / "receipt.pdf"
    result = signed_in.run("receipt", str(first_id(raw, admin_token, "usage")), "--pdf", str(target))
    assert result.code == 1
    assert "no receipt" in result.one_line_error()
    assert not target.exists()


@pytest.mark.parametrize("args", [["receipt", "abc"], ["receipt", "0"], ["receipt"],
                                  ["receipt", "5", "--pdf", "-", "--json"]])
def test_bad_arguments_are_usage_errors(signed_in, args):
    result = signed_in.run(*args)
    assert result.code == 2
    result.one_line_error()


def test_a_member_is_refused_in_one_line(cli, raw):
    cli.login(MEMBER)
    result = cli.run("receipt", "1")
    assert result.code == 1 and "administrative rights" in result.one_line_error()


def test_the_client_reads_receipts_and_daily_usage(api_url, raw):
    token = raw.token(ADMIN)
    transaction_id = first_id(raw, token, "purchase")

    async def scenario():
        async with CreditsClient(api_url.removesuffix("/api/v1"), token) as client:
            found = await client.receipt(transaction_id)
            pdf = await client.receipt_pdf(transaction_id)
            usage = await client.daily_usage(TransactionQuery(process_type=["postcard"]))
            with pytest.raises(errors.NotFoundError):
                await client.receipt_pdf(first_id(raw, token, "usage"))
            return found, pdf, usage

    found, pdf, usage = asyncio.run(scenario())
    assert found.transaction.id == transaction_id and found.card and found.card.last4 == "4242"
    assert f"{found.amount_usd:.2f}" in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert usage.days and {day.process_type for day in usage.days} == {"postcard"}
    served = raw.get("/credits/usage/daily", token, params={"process_type": "postcard"}).json()
    assert usage.model_dump(mode="json") == served
