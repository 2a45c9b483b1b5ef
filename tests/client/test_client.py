"""The async API client against the real backend over real HTTP on loopback (DESIGN.md §3).

Results are checked against what the server says over bare httpx (``raw``) or holds in its
database (``seeded``), not against the client's own view.
"""

from __future__ import annotations

import csv
import io
import logging
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pydantic
import pytest
from sqlalchemy import func, select

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient, normalise_server, parse_purchase_amount
from credits_tui.api_client.models import (
    AccountStatus,
    BillingAddress,
    CardInput,
    CardPatch,
    CardSummary,
    InvoiceList,
    Me,
    PriceCatalog,
    PurchaseResult,
    Role,
    TokenResponse,
    Transaction,
    TransactionPage,
    TransactionQuery,
    TransactionSummary,
    TransactionType,
    UsageRequest,
    UsageResult,
    UserList,
)
from credits_tui.backend.db.schema import Account, LedgerTransaction, Purchase
from tests.support import closed_port
from tests.support.backend import ADMIN, MEMBER, OTHER_ADMIN, PASSWORD, SUPPORT


def card_input(number: str, name: str = "Ada Admin") -> CardInput:
    return CardInput(
        cardholder_name=name, number=number, exp_month=11, exp_year=datetime.now(timezone.utc).year + 3,
        cvc="123", billing_address=BillingAddress(line1="1 Test Street", city="Springfield", region="IL",
                                                  postal_code="62701", country="US"))


async def signed_in(server: str, email: str) -> CreditsClient:
    client = CreditsClient(server)
    await client.sign_in(email, PASSWORD)
    return client


@pytest.fixture
async def admin(server):
    client = await signed_in(server, ADMIN)
    yield client
    await client.aclose()


@pytest.fixture
async def other_admin(server):
    client = await signed_in(server, OTHER_ADMIN)
    yield client
    await client.aclose()


def account_id(database, name: str) -> int:
    with database.read() as session:
        return session.scalar(select(Account.id).where(Account.name == name))


def ledger_count(database, name: str) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(LedgerTransaction)
                              .where(LedgerTransaction.account_id == account_id(database, name)))


def assert_server_message(error: errors.ApiError, response: httpx.Response) -> None:
    """The error carries the server's own message and code for the same request."""
    detail = response.json()["error"]
    assert error.message == detail["message"]
    assert error.code == detail["code"]
    assert error.status == response.status_code
    assert str(error) == error.message != ""


# --- every method returns its model -------------------------------------------------------


async def test_sign_in_sets_the_token_and_me_returns_the_signed_in_user(server, raw):
    async with CreditsClient(server) as client:
        assert client.token is None
        answer = await client.sign_in(ADMIN, PASSWORD)
        assert isinstance(answer, TokenResponse)
        assert answer.token and client.token == answer.token
        assert answer.user.email == ADMIN and answer.user.role is Role.admin
        assert answer.expires_at > datetime.now(timezone.utc)
        me = await client.me()
    assert isinstance(me, Me)
    assert (me.email, me.role, me.account.name) == (ADMIN, Role.admin, "Demo Co.")
    # The token the client kept is a real one: the server accepts it from anyone.
    assert raw.get("/me", answer.token).json()["email"] == ADMIN


async def test_no_log_line_holds_the_token_or_the_password(server, caplog):
    caplog.set_level(logging.DEBUG)
    async with CreditsClient(server) as client:
        token = (await client.sign_in(ADMIN, PASSWORD)).token
        await client.status()
        await client.purchase("1.00")
        await client.sign_out()
        assert client.token is None
        with pytest.raises(errors.AuthenticationError):  # signed out means the token is revoked
            client.token = token
            await client.me()
    assert caplog.records  # httpx and friends did log, at DEBUG
    assert token not in caplog.text and PASSWORD not in caplog.text


async def test_server_address_may_include_the_api_path_and_a_trailing_slash(live_server):
    async with CreditsClient(live_server + "/") as client:
        assert client.server == live_server.removesuffix("/api/v1")
        assert (await client.sign_in(SUPPORT, PASSWORD)).user.role is Role.support


async def test_status(admin, raw):
    status = await admin.status()
    assert isinstance(status, AccountStatus)
    expected = raw.get("/account/status", admin.token).json()
    assert status.account.name == "Demo Co."
    assert isinstance(status.purchase_credits, Decimal)
    assert status.purchase_credits == Decimal(expected["purchase_credits"])
    assert status.card_on_file is not None and status.card_on_file.last4 == "4242"
    assert [q.process_type for q in status.free_quotas] == [q["process_type"] for q in expected["free_quotas"]]
    assert status.auto_recharge.enabled == expected["auto_recharge"]["enabled"]


async def test_users(admin, raw):
    users = await admin.users()
    assert isinstance(users, UserList)
    emails = {user.email: user.role for user in users.items}
    assert emails[ADMIN] is Role.admin and emails[SUPPORT] is Role.support and emails[MEMBER] is Role.member
    assert OTHER_ADMIN not in emails
    assert sorted(emails) == sorted(u["email"] for u in raw.get("/account/users", admin.token).json()["items"])


async def test_card_on_file_and_none_without_one(admin, other_admin):
    card = await admin.card()
    assert isinstance(card, CardSummary)
    assert (card.brand, card.last4) == ("visa", "4242")
    assert await other_admin.card() is None


async def test_put_card_then_patch_card_keeps_the_number(admin):
    put = await admin.put_card(card_input("5555 5555 5555 4444"))
    assert isinstance(put, CardSummary)
    assert (put.brand, put.last4, put.exp_month) == ("mastercard", "4444", 11)
    assert (await admin.card()) == put

    patched = await admin.patch_card(CardPatch(cardholder_name="Ada Lovelace", exp_month=2))
    assert isinstance(patched, CardSummary)
    assert (patched.cardholder_name, patched.exp_month) == ("Ada Lovelace", 2)
    # Only the fields that were set were sent: the rest of the card is untouched.
    assert (patched.last4, patched.exp_year, patched.billing_address) == (put.last4, put.exp_year,
                                                                           put.billing_address)
    assert (await admin.card()) == patched


async def test_remove_card_is_refused_naming_accounting(admin, settings, raw):
    with pytest.raises(errors.ConflictError) as refused:
        await admin.remove_card()
    assert settings.accounting_email in refused.value.message
    assert_server_message(refused.value, raw.request("DELETE", "/billing/card", admin.token))
    assert (await admin.card()) is not None


async def test_invoices(admin, raw):
    invoices = await admin.invoices()
    assert isinstance(invoices, InvoiceList)
    expected = raw.get("/billing/invoices", admin.token).json()["items"]
    assert [i.id for i in invoices.items] == [i["id"] for i in expected]
    assert [i.amount for i in invoices.items] == [Decimal(i["amount"]) for i in expected]


async def test_prices(admin, settings):
    prices = await admin.prices()
    assert isinstance(prices, PriceCatalog)
    assert [(p.process_type, p.unit_price, p.billing, p.free_quota) for p in prices.items] == [
        (p.process_type, p.unit_price, p.billing, p.free_quota) for p in settings.prices]
    assert all(isinstance(p.unit_price, Decimal) for p in prices.items)


async def test_purchase_is_exact_in_decimal(admin, raw, seeded):
    before = raw.balance(admin.token)
    purchases_before = _purchases(seeded)
    first = await admin.purchase("1.10")
    second = await admin.purchase(Decimal("2.20"))
    for result, amount in ((first, Decimal("1.10")), (second, Decimal("2.20"))):
        assert isinstance(result, PurchaseResult)
        assert isinstance(result.purchase.amount, Decimal)
        assert result.purchase.amount == result.purchase.charged_usd == amount
        assert result.purchase.card_last4 == "4242"
        assert result.transaction.transaction_type is TransactionType.purchase
        assert result.transaction.amount == amount
    assert second.purchase_credits == before + Decimal("3.30")  # not 3.3000000000000003
    assert raw.balance(admin.token) == before + Decimal("3.30")
    assert first.purchase.id != second.purchase.id  # a new key for each purchase
    assert _purchases(seeded) == purchases_before + 2


def _purchases(database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(Purchase))


async def test_same_idempotency_key_twice_buys_once_with_the_same_result(admin, raw, seeded):
    before = raw.balance(admin.token)
    purchases_before = _purchases(seeded)
    key = f"test-{uuid.uuid4()}"
    first = await admin.purchase("7.00", idempotency_key=key)
    again = await admin.purchase("7.00", idempotency_key=key)
    assert again == first
    assert first.purchase_credits == before + Decimal("7.00")
    assert raw.balance(admin.token) == before + Decimal("7.00")
    assert _purchases(seeded) == purchases_before + 1
    # The same key for a different amount is refused, not silently replayed.
    with pytest.raises(errors.ValidationError) as reused:
        await admin.purchase("8.00", idempotency_key=key)
    assert reused.value.code == "idempotency_key_reuse" and reused.value.message
    assert raw.balance(admin.token) == before + Decimal("7.00")


async def test_record_usage(admin, raw, settings):
    before = raw.balance(admin.token)
    price = settings.price_of("postcard").unit_price
    result = await admin.record_usage(UsageRequest(process_type="postcard", quantity=3, reference="job-17"))
    assert isinstance(result, UsageResult)
    assert (result.process_type, result.quantity, result.charged_quantity, result.free_quantity) == (
        "postcard", 3, 3, 0)
    assert result.amount == price * 3
    assert result.transaction is not None and result.transaction.amount == -price * 3
    assert result.transaction.reference == "job-17"
    assert result.purchase_credits == before - price * 3 == raw.balance(admin.token)


# --- transactions ---------------------------------------------------------------------------


async def test_transactions_page_with_a_cursor(admin):
    first = await admin.transactions(limit=30)
    assert isinstance(first, TransactionPage)
    assert len(first.items) == 30 and first.next_cursor
    second = await admin.transactions(limit=30, cursor=first.next_cursor)
    assert len(second.items) == 30
    assert not {t.id for t in first.items} & {t.id for t in second.items}
    everything = [t.id for t in first.items + second.items]
    newest_first = sorted(first.items + second.items, key=lambda t: (t.created_at, t.id), reverse=True)
    assert everything == [t.id for t in newest_first]

    purchases = await admin.transactions(TransactionQuery(transaction_type=[TransactionType.purchase]), limit=5)
    assert purchases.items and all(t.transaction_type is TransactionType.purchase for t in purchases.items)


async def test_iter_transactions_yields_every_row_once(admin, seeded):
    rows = [t async for t in admin.iter_transactions(page_size=37)]  # 200 rows: 6 pages, the last partial
    assert all(isinstance(t, Transaction) for t in rows)
    ids = [t.id for t in rows]
    assert len(ids) == len(set(ids))
    summary = await admin.summary()
    assert len(ids) == summary.count == ledger_count(seeded, "Demo Co.")
    assert sum(t.amount for t in rows) == summary.credits_added - summary.credits_used

    query = TransactionQuery(transaction_type=[TransactionType.usage], user=ADMIN)  # support records no usage
    used = [t async for t in admin.iter_transactions(query, page_size=10)]
    assert used and all(t.transaction_type is TransactionType.usage and t.user.email == ADMIN for t in used)
    assert len(used) == (await admin.summary(query)).count


async def test_summary(admin, raw):
    summary = await admin.summary()
    assert isinstance(summary, TransactionSummary)
    assert isinstance(summary.credits_added, Decimal) and isinstance(summary.credits_used, Decimal)
    assert summary.credits_added >= 0 and summary.credits_used >= 0
    # Over all time the net change is the balance (every account starts at zero).
    assert summary.credits_added - summary.credits_used == raw.balance(admin.token)

    since = datetime.now(timezone.utc) - timedelta(days=30)
    recent = await admin.summary(TransactionQuery(since=since))
    assert 0 < recent.count < summary.count
    assert recent.count == raw.count(admin.token, since=since.isoformat())


async def test_stream_csv(admin):
    chunks = [chunk async for chunk in admin.stream_csv()]
    assert chunks and all(isinstance(c, bytes) for c in chunks)
    text = b"".join(chunks).decode("utf-8")
    lines = text.splitlines()
    assert lines[0].split(",")[:3] == ["id", "created_at", "transaction_type"]
    assert len(lines) - 1 == (await admin.summary()).count

    query = TransactionQuery(transaction_type=[TransactionType.purchase])
    rows = list(csv.DictReader(io.StringIO(b"".join([c async for c in admin.stream_csv(query)]).decode())))
    assert rows and {row["transaction_type"] for row in rows} == {"purchase"}
    assert len(rows) == (await admin.summary(query)).count


async def test_an_export_from_a_server_that_cannot_be_reached_says_so_not_cut_off():
    async with CreditsClient(f"http://127.0.0.1:{closed_port()}", "tok-unused") as client:
        with pytest.raises(errors.NetworkError) as raised:
            [chunk async for chunk in client.stream_csv()]
    assert raised.value.message.startswith("Cannot reach the server at http://127.0.0.1:")
    assert "cut off" not in raised.value.message


# --- each error type, from the real server ------------------------------------------------


async def test_bad_password_is_an_authentication_error(server, raw):
    async with CreditsClient(server) as client:
        with pytest.raises(errors.AuthenticationError) as refused:
            await client.sign_in(SUPPORT, "not-the-password")
        assert client.token is None
    assert_server_message(refused.value, raw.sign_in_response(SUPPORT, "also-wrong"))
    assert "not-the-password" not in str(refused.value)


async def test_garbage_token_is_an_authentication_error(server, raw):
    token = "garbage-token-" + uuid.uuid4().hex
    async with CreditsClient(server, token) as client:
        with pytest.raises(errors.AuthenticationError) as refused:
            await client.me()
    assert_server_message(refused.value, raw.get("/me", token))
    assert token not in str(refused.value) and token not in repr(refused.value)


async def test_member_is_forbidden(server, raw):
    async with await signed_in(server, MEMBER) as member:
        with pytest.raises(errors.ForbiddenError) as refused:
            await member.status()
        assert_server_message(refused.value, raw.get("/account/status", member.token))
        with pytest.raises(errors.ForbiddenError):
            await member.purchase("5.00")
        assert (await member.me()).role is Role.member  # signed in, just not allowed


async def test_patching_a_missing_card_is_not_found(other_admin, raw):
    with pytest.raises(errors.NotFoundError) as missing:
        await other_admin.patch_card(CardPatch(cardholder_name="Olga"))
    assert_server_message(missing.value, raw.request("PATCH", "/billing/card", other_admin.token,
                                                     json={"cardholder_name": "Olga"}))


async def test_validation_errors_name_the_field(admin):
    with pytest.raises(errors.ValidationError) as unknown:
        await admin.transactions(TransactionQuery(user="nobody@nowhere.example"))
    assert (unknown.value.field, unknown.value.code, unknown.value.status) == ("user", "unknown_user", 422)
    assert unknown.value.message
    with pytest.raises(errors.ValidationError) as summary:
        await admin.summary(TransactionQuery(user="nobody@nowhere.example"))
    assert summary.value.field == "user"

    with pytest.raises(pydantic.ValidationError) as refused_here:
        card_input("4242 4242 4242 4241")  # fails the Luhn check: refused before anything is sent
    assert refused_here.value.errors()[0]["type"] == "invalid_card_number"
    assert "4241" not in str(refused_here.value)
    # The server applies the same rule to whatever reaches it (a copy skips the model's check).
    typo = card_input("4242 4242 4242 4242").model_copy(update={"number": "4242424242424241"})
    with pytest.raises(errors.ValidationError) as bad_number:
        await admin.put_card(typo)
    assert (bad_number.value.field, bad_number.value.code) == ("number", "invalid_card_number")
    assert bad_number.value.message and "4241" not in bad_number.value.message
    assert (await admin.card()).last4 == "4242"


async def test_declined_card(admin, raw):
    await admin.put_card(card_input("4000000000000341"))
    before = raw.balance(admin.token)
    with pytest.raises(errors.CardDeclinedError) as declined:
        await admin.purchase("10.00")
    assert isinstance(declined.value, errors.PaymentRequiredError)
    assert declined.value.status == 402 and "declined" in declined.value.message
    assert raw.balance(admin.token) == before


async def test_insufficient_credits(other_admin, raw):
    before = raw.balance(other_admin.token)
    with pytest.raises(errors.InsufficientCreditsError) as short:
        await other_admin.record_usage(UsageRequest(process_type="handwritten_letter", quantity=1000))
    assert short.value.status == 402 and short.value.code == "insufficient_credits"
    assert f"{before:.2f}" in short.value.message  # the server's message names the balance
    assert raw.balance(other_admin.token) == before


async def test_purchase_without_a_card_needs_one(other_admin, raw):
    before = raw.balance(other_admin.token)
    with pytest.raises(errors.CardRequiredError) as no_card:
        await other_admin.purchase("10.00")
    assert no_card.value.status == 402 and no_card.value.code == "card_required" and no_card.value.message
    assert raw.balance(other_admin.token) == before


async def test_repeated_bad_passwords_are_rate_limited(server):
    async with CreditsClient(server) as client:
        for _ in range(5):
            with pytest.raises(errors.AuthenticationError):
                await client.sign_in(ADMIN, "wrong-password")
        with pytest.raises(errors.RateLimitedError) as limited:
            await client.sign_in(ADMIN, "wrong-password")
        assert limited.value.status == 429 and limited.value.message
        assert limited.value.retry_after is not None and 0 < limited.value.retry_after <= 15 * 60
        with pytest.raises(errors.RateLimitedError):  # even the right password now waits
            await client.sign_in(ADMIN, PASSWORD)


# --- refused before any request -------------------------------------------------------------


@pytest.mark.parametrize("amount", ["0.5", "1.001", "abc", "NaN", "-5", "", "1e3", "inf", "0.999"])
async def test_bad_purchase_amounts_are_refused_without_a_request(amount):
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    with pytest.raises(errors.ValidationError) as refused:
        parse_purchase_amount(amount)
    assert refused.value.field == "amount" and refused.value.message
    async with CreditsClient("http://127.0.0.1:9", "tok", transport=httpx.MockTransport(record)) as client:
        with pytest.raises(errors.ValidationError):
            await client.purchase(amount)
    assert requests == []


@pytest.mark.parametrize(("text", "value"), [("1", "1.00"), ("25.5", "25.50"), (" 12.34 ", "12.34"),
                                             ("10000", "10000.00")])
def test_good_purchase_amounts_parse_exactly(text, value):
    assert parse_purchase_amount(text) == Decimal(value)
    assert str(parse_purchase_amount(text)) == value


@pytest.mark.parametrize("address", ["ftp://x", "", "localhost:8000", "   ", "http://", "127.0.0.1:8000"])
def test_normalise_server_refuses_what_is_not_an_http_url(address):
    with pytest.raises(errors.ValidationError) as refused:
        normalise_server(address)
    assert refused.value.field == "server" and refused.value.message


def test_an_http_address_with_a_bad_port_says_what_is_wrong_with_it():
    """Not that it must start with http://, which it does."""
    with pytest.raises(errors.ValidationError) as refused:
        normalise_server("http://127.0.0.1:abc")
    assert "port" in refused.value.message.lower() and "must start with" not in refused.value.message
    assert not refused.value.message.endswith("..")


@pytest.mark.parametrize(("address", "expected"), [
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("https://credits.example/", "https://credits.example"),
    ("https://credits.example/api/v1", "https://credits.example"),
    (" http://h:1/prefix/api/v1/ ", "http://h:1/prefix"),
])
def test_normalise_server(address, expected):
    assert normalise_server(address) == expected


def test_the_client_side_never_imports_textual_or_the_backend():
    code = ("import sys, credits_tui.api_client.client, credits_tui.auth.session, credits_tui.cli; "
            "print(sorted(m for m in ('textual', 'fastapi', 'sqlalchemy', 'credits_tui.backend') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
