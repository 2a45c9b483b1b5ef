"""An async client for the Purchase Credits API: one typed method per endpoint.

How a request is sent, repeated and read is ``transport.py``'s. A purchase is retried only with
the same ``Idempotency-Key``, so a timeout after the server committed can never charge twice:
the retry gets the first result back. Everything that goes wrong is raised as one of the types
in ``errors.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pydantic

from credits_tui.api_client import errors
from credits_tui.api_client.models import (
    AccountStatus,
    AuditEvent,
    AuditPage,
    AuditQuery,
    AutoRecharge,
    AutoRechargeUpdate,
    CardInput,
    CardPatch,
    CardSummary,
    DailyUsage,
    InvoiceList,
    Me,
    NotificationPage,
    NotificationSettings,
    NotificationSettingsUpdate,
    PriceCatalog,
    PurchaseRequest,
    PurchaseResult,
    Receipt,
    TokenRequest,
    TokenResponse,
    Transaction,
    TransactionPage,
    TransactionQuery,
    TransactionSummary,
    UsageRequest,
    UsageResult,
    UserList,
)
from credits_tui.api_client.transport import (
    AskAgain,
    Conversation,
    error_in,
    normalise_server,
    parse,
    reason,
    unreachable,
)

__all__ = ["CreditsClient", "normalise_server", "parse_purchase_amount"]

Paged = TransactionPage | AuditPage


def parse_purchase_amount(value: str | Decimal | int) -> Decimal:
    """A purchase amount checked as the server would (min 1.00, steps of 0.01), or a ValidationError."""
    try:
        return PurchaseRequest(amount=value).amount  # type: ignore[arg-type]
    except pydantic.ValidationError as invalid:
        raise _refused(invalid) from None


def _refused(invalid: pydantic.ValidationError) -> errors.ValidationError:
    """The first thing wrong with a request built here, as the server would have said it."""
    error = invalid.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else None
    message = error["msg"] if field in (None, "amount") else f"{field.capitalize()}: {error['msg']}"
    return errors.ValidationError(message, code=error["type"], field=field)


class CreditsClient(Conversation):
    """One signed-in (or signing-in) conversation with a server. Use as an async context manager."""

    # --- auth ---------------------------------------------------------------------------

    async def sign_in(self, email: str, password: str) -> TokenResponse:
        try:
            body = TokenRequest(email=email, password=password).model_dump()
        except pydantic.ValidationError as invalid:  # an email or password no account can have
            raise _refused(invalid) from None
        result = parse(await self._send("POST", "/auth/tokens", retry=False, json=body), TokenResponse)
        self._token = result.token
        return result

    async def sign_out(self) -> None:
        """Revoke the token on the server (a token already invalid counts as signed out)."""
        response = await self._send("DELETE", "/auth/tokens/current", retry=True)
        if response.status_code not in (204, 401):
            raise error_in(response)
        self._token = None

    async def me(self) -> Me:
        return await self._get("/me", Me)

    # --- account and billing ------------------------------------------------------------

    async def status(self) -> AccountStatus:
        return await self._get("/account/status", AccountStatus)

    async def users(self) -> UserList:
        return await self._get("/account/users", UserList)

    async def card(self) -> CardSummary | None:
        """The card on file, or None when there is none."""
        try:
            return await self._get("/billing/card", CardSummary)
        except errors.NotFoundError:
            return None

    async def put_card(self, card: CardInput) -> CardSummary:
        response = await self._send("PUT", "/billing/card", retry=True, json=card.model_dump(mode="json"))
        return parse(response, CardSummary)

    async def patch_card(self, patch: CardPatch) -> CardSummary:
        body = patch.model_dump(mode="json", exclude_unset=True)
        return parse(await self._send("PATCH", "/billing/card", retry=True, json=body), CardSummary)

    async def remove_card(self) -> None:
        """Always refused by the product: raises ConflictError naming the accounting contact."""
        response = await self._send("DELETE", "/billing/card", retry=True)
        if not response.is_success:
            raise error_in(response)

    async def invoices(self) -> InvoiceList:
        return await self._get("/billing/invoices", InvoiceList)

    # --- credits ------------------------------------------------------------------------

    async def prices(self) -> PriceCatalog:
        return await self._get("/credits/prices", PriceCatalog)

    async def purchase(self, amount: Decimal | str, *, idempotency_key: str | None = None,
                       in_progress_retries: int = 5) -> PurchaseResult:
        """Buy credits exactly once: every retry carries the same Idempotency-Key."""
        body = {"amount": f"{parse_purchase_amount(amount):.2f}"}
        headers = {"Idempotency-Key": idempotency_key or f"credits-tui-{uuid.uuid4()}"}

        async def send() -> httpx.Response:
            response = await self._send("POST", "/credits/purchases", retry=True, json=body, headers=headers)
            if response.status_code == 409 and error_in(response).code == "idempotency_in_progress":
                raise AskAgain(response)  # the first attempt is still running: a repeat gets its result
            return response

        return parse(await self._repeat(in_progress_retries + 1, send), PurchaseResult)

    async def record_usage(self, usage: UsageRequest) -> UsageResult:
        response = await self._send("POST", "/credits/usage", retry=False, json=usage.model_dump(mode="json"))
        return parse(response, UsageResult)

    # --- transactions -------------------------------------------------------------------

    async def transactions(self, query: TransactionQuery | None = None, *, limit: int = 100,
                           cursor: str | None = None) -> TransactionPage:
        params = [*(query or TransactionQuery()).to_params(), ("limit", str(limit))]
        if cursor:
            params.append(("cursor", cursor))
        return await self._get("/credits/transactions", TransactionPage, params)

    async def iter_transactions(self, query: TransactionQuery | None = None, *,
                                page_size: int = 500) -> AsyncIterator[Transaction]:
        """Every matching transaction, newest first, one page in memory at a time."""
        async for item in _every_page(lambda cursor: self.transactions(query, limit=page_size, cursor=cursor)):
            yield item

    async def summary(self, query: TransactionQuery | None = None) -> TransactionSummary:
        return await self._get("/credits/transactions/summary", TransactionSummary,
                               (query or TransactionQuery()).to_params())

    async def stream_csv(self, query: TransactionQuery | None = None) -> AsyncIterator[bytes]:
        """The server's CSV export, chunk by chunk (never whole in memory)."""
        params = tuple((query or TransactionQuery()).to_params())  # a tuple: httpx types it covariantly
        try:
            async with self._http.stream("GET", "/credits/transactions.csv", params=params,
                                         headers=self._headers({"Accept": "text/csv"})) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_in(response)
                if not response.headers.get("content-type", "").startswith("text/csv"):
                    raise errors.ProtocolError("The server did not send CSV: is this the right server address?",
                                               code="unexpected_response", status=response.status_code)
                async for chunk in response.aiter_bytes():
                    yield chunk
        except (httpx.ConnectError, httpx.ConnectTimeout) as failure:
            raise unreachable(self.server, failure) from None  # never started, so not "cut off"
        except httpx.TimeoutException:
            raise errors.TimeoutError(f"The server at {self.server} stopped sending the export.",
                                      code="timeout") from None
        except httpx.TransportError as failure:
            raise errors.NetworkError(f"The export from {self.server} was cut off: {reason(failure)}.",
                                      code="network_error") from None

    # --- where the credits go, receipts ---------------------------------------------------

    async def daily_usage(self, query: TransactionQuery | None = None) -> DailyUsage:
        """Credits used and units per day and process type, for the same filters as transactions."""
        return await self._get("/credits/usage/daily", DailyUsage, (query or TransactionQuery()).to_params())

    async def receipt(self, transaction_id: int) -> Receipt:
        return await self._get(f"/billing/receipts/{transaction_id}", Receipt)

    async def receipt_pdf(self, transaction_id: int) -> bytes:
        """The receipt as a PDF document."""
        response = await self._send("GET", f"/billing/receipts/{transaction_id}.pdf", retry=True,
                                    headers={"Accept": "application/pdf"})
        if not response.is_success:
            raise error_in(response)
        if response.headers.get("content-type") != "application/pdf" or not response.content.startswith(b"%PDF-"):
            raise errors.ProtocolError("The server did not send a PDF: is this the right server address?",
                                       code="unexpected_response", status=response.status_code)
        return response.content

    # --- never run out: auto-recharge, alerts, notifications -------------------------------

    async def auto_recharge(self) -> AutoRecharge:
        return await self._get("/billing/auto-recharge", AutoRecharge)

    async def put_auto_recharge(self, update: AutoRechargeUpdate) -> AutoRecharge:
        """Replace the rule (PUT is idempotent, so it is retried like any safe request)."""
        response = await self._send("PUT", "/billing/auto-recharge", retry=True, json=update.model_dump(mode="json"))
        return parse(response, AutoRecharge)

    async def notification_settings(self) -> NotificationSettings:
        return await self._get("/billing/notifications", NotificationSettings)

    async def put_notification_settings(self, update: NotificationSettingsUpdate) -> NotificationSettings:
        response = await self._send("PUT", "/billing/notifications", retry=True, json=update.model_dump(mode="json"))
        return parse(response, NotificationSettings)

    async def notifications(self, *, limit: int = 100, cursor: str | None = None) -> NotificationPage:
        """The account's notifications, newest first; pass ``next_cursor`` for the next page."""
        params = [("limit", str(limit))] + ([("cursor", cursor)] if cursor else [])
        return await self._get("/account/notifications", NotificationPage, params)

    # --- audit log ------------------------------------------------------------------------

    async def audit(self, query: AuditQuery | None = None, *, limit: int = 100,
                    cursor: str | None = None) -> AuditPage:
        """One page of the account's audit log, newest first (admins only)."""
        params = [*(query or AuditQuery()).to_params(), ("limit", str(limit))]
        if cursor:
            params.append(("cursor", cursor))
        return await self._get("/account/audit", AuditPage, params)

    async def iter_audit(self, query: AuditQuery | None = None, *, page_size: int = 500) -> AsyncIterator[AuditEvent]:
        """Every matching audit row, newest first, one page in memory at a time."""
        async for item in _every_page(lambda cursor: self.audit(query, limit=page_size, cursor=cursor)):
            yield item


async def _every_page(fetch: Callable[[str | None], Awaitable[Paged]]) -> AsyncIterator[Any]:
    """The items of every page, following ``next_cursor`` from the first page."""
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        for item in page.items:
            yield item
        if page.next_cursor is None:
            return
        if page.next_cursor == cursor or not page.items:
            raise errors.ProtocolError("The server sent the same page again; stopped reading.",
                                       code="unexpected_response")
        cursor = page.next_cursor
