"""An async client for the Purchase Credits API: one typed method per endpoint.

Safe requests are retried (by ``stamina``: exponential backoff with jitter) on connection
failures and 502/503/504, and on a 429 that says how long to wait; a ``Retry-After`` of a few
seconds is waited out, a longer one is the caller's to show. A purchase is retried only with
the same ``Idempotency-Key``, so a timeout after the server committed can never charge twice:
the retry gets the first result back. Everything that goes wrong is raised as one of the
types in ``errors.py``.
"""

from __future__ import annotations

import email.utils
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pydantic

from credits_tui import __version__
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
    ErrorEnvelope,
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

API_PATH = "/api/v1"
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)
RETRY_STATUSES = frozenset({502, 503, 504})
MAX_RETRY_AFTER = 5.0  # seconds: a server that asks for a longer wait gets an error shown, not a frozen screen
MAX_BACKOFF = 5.0  # seconds: the longest wait between two attempts of our own choosing
Model = TypeVar("Model", bound=pydantic.BaseModel)
Paged = TransactionPage | AuditPage

# stamina logs each retry at WARNING. Where nothing configured logging, Python would print that
# on stderr, across the screen the app draws; an app that configures logging still gets it.
logging.getLogger("stamina").addHandler(logging.NullHandler())


class _AskAgain(Exception):
    """An answer worth asking for again (the server was busy, or the purchase is still running).
    If no repeat is left, the answer is the result."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")  # stamina logs this: no URL, no header
        self.response = response
        self.retry_after = _retry_after(response)


class _NoAnswer(Exception):
    """No answer, and a repeat is harmless. If no repeat is left, ``error`` is raised."""

    def __init__(self, error: errors.ApiError) -> None:
        super().__init__(error.code)
        self.error = error


def _backoff(failure: Exception) -> bool | float:
    """stamina's hook: repeat what an attempt marked as worth it, after the server's Retry-After
    when it gave one, else after stamina's jittered exponential backoff."""
    if isinstance(failure, _AskAgain) and failure.retry_after is not None:
        return failure.retry_after
    return isinstance(failure, _AskAgain | _NoAnswer)


def normalise_server(server: str) -> str:
    """``https://host[:port][/prefix]`` without a trailing slash or the API path."""
    url = server.strip().rstrip("/")
    if url.endswith(API_PATH):
        url = url[: -len(API_PATH)]
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise errors.ValidationError(f"The server address must start with http:// or https://, not {server!r}.",
                                     code="invalid_server", field="server")
    return url


def parse_purchase_amount(value: str | Decimal | int) -> Decimal:
    """A purchase amount checked as the server would (min 1.00, steps of 0.01), or a ValidationError."""
    try:
        return PurchaseRequest(amount=value).amount  # type: ignore[arg-type]
    except pydantic.ValidationError as invalid:
        error = invalid.errors()[0]
        raise errors.ValidationError(error["msg"], code=error["type"], field="amount") from None


class CreditsClient:
    """One signed-in (or signing-in) conversation with a server. Use as an async context manager."""

    def __init__(self, server: str, token: str | None = None, *, timeout: httpx.Timeout = DEFAULT_TIMEOUT,
                 retries: int = 2, backoff: float = 0.25,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.server = normalise_server(server)
        self.retries = retries
        self.backoff = backoff
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=self.server + API_PATH, timeout=timeout, transport=transport,
            headers={"User-Agent": f"credits-tui/{__version__}"},
            # A plain-http server never needs TLS (redirects are not followed), so skip loading
            # the CA bundle, a tenth of a second of every quick command; https always verifies.
            verify=self.server.startswith("https://"),
        )

    async def __aenter__(self) -> CreditsClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def token(self) -> str | None:
        return self._token

    @token.setter
    def token(self, token: str | None) -> None:
        self._token = token

    # --- transport ----------------------------------------------------------------------

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers | (extra or {})

    async def _repeat(self, attempts: int, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        """``send()`` up to ``attempts`` times while it raises ``_AskAgain`` or ``_NoAnswer``."""
        import stamina  # here: the CLI's quick commands import this module but never retry through it
        try:
            async for attempt in stamina.retry_context(on=_backoff, attempts=attempts, timeout=None,
                                                       wait_initial=self.backoff, wait_jitter=self.backoff,
                                                       wait_max=MAX_BACKOFF):
                with attempt:
                    response = await send()
        except _AskAgain as last:
            return last.response
        except _NoAnswer as last:
            raise last.error from None
        return response

    async def _send(self, method: str, path: str, *, retry: bool, json: Any = None,
                    params: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        """Send once, or up to ``1 + retries`` times when ``retry`` says a repeat is harmless.

        A failure to connect is retried for every request: nothing reached the server.
        """

        async def send() -> httpx.Response:
            try:
                response = await self._http.request(method, path, json=json, params=params,
                                                     headers=self._headers(headers))
            except (httpx.ConnectError, httpx.ConnectTimeout) as failure:
                raise _NoAnswer(errors.NetworkError(
                    f"Cannot reach the server at {self.server}: {_reason(failure)}.", code="network_error"
                )) from None
            except httpx.TimeoutException:
                late = errors.TimeoutError(f"The server at {self.server} did not answer in time.", code="timeout")
                raise (_NoAnswer(late) if retry else late) from None
            except httpx.TransportError as failure:
                cut = errors.NetworkError(f"The connection to {self.server} failed: {_reason(failure)}.",
                                          code="network_error")
                raise (_NoAnswer(cut) if retry else cut) from None
            if retry and _busy(response):
                raise _AskAgain(response)
            return response

        return await self._repeat(1 + self.retries, send)

    @staticmethod
    def _error(response: httpx.Response) -> errors.ApiError:
        status = response.status_code
        try:
            detail = ErrorEnvelope.model_validate_json(response.content).error
        except pydantic.ValidationError:
            if status >= 500:
                return errors.ServerError(f"The server failed (HTTP {status}). Try again in a moment.",
                                          code="server_error", status=status)
            return errors.ProtocolError(f"The server sent an answer that is not the API's (HTTP {status}).",
                                        code="unexpected_response", status=status)
        return errors.error_for(status, detail.code, detail.message, detail.field, _retry_after(response))

    @classmethod
    def _parse(cls, response: httpx.Response, model: type[Model]) -> Model:
        if not response.is_success:
            raise cls._error(response)
        try:
            return model.model_validate_json(response.content)
        except pydantic.ValidationError:
            raise errors.ProtocolError("The server's answer could not be read: it is incomplete or not the "
                                       "API's.", code="unexpected_response", status=response.status_code) from None

    async def _get(self, path: str, model: type[Model], params: Any = None) -> Model:
        return self._parse(await self._send("GET", path, retry=True, params=params), model)

    # --- auth ---------------------------------------------------------------------------

    async def sign_in(self, email: str, password: str) -> TokenResponse:
        body = TokenRequest(email=email, password=password).model_dump()
        result = self._parse(await self._send("POST", "/auth/tokens", retry=False, json=body), TokenResponse)
        self._token = result.token
        return result

    async def sign_out(self) -> None:
        """Revoke the token on the server (a token already invalid counts as signed out)."""
        response = await self._send("DELETE", "/auth/tokens/current", retry=True)
        if response.status_code not in (204, 401):
            raise self._error(response)
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
        return self._parse(response, CardSummary)

    async def patch_card(self, patch: CardPatch) -> CardSummary:
        body = patch.model_dump(mode="json", exclude_unset=True)
        return self._parse(await self._send("PATCH", "/billing/card", retry=True, json=body), CardSummary)

    async def remove_card(self) -> None:
        """Always refused by the product: raises ConflictError naming the accounting contact."""
        response = await self._send("DELETE", "/billing/card", retry=True)
        if not response.is_success:
            raise self._error(response)

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
            if response.status_code == 409 and self._error(response).code == "idempotency_in_progress":
                raise _AskAgain(response)  # the first attempt is still running: a repeat gets its result
            return response

        return self._parse(await self._repeat(in_progress_retries + 1, send), PurchaseResult)

    async def record_usage(self, usage: UsageRequest) -> UsageResult:
        response = await self._send("POST", "/credits/usage", retry=False, json=usage.model_dump(mode="json"))
        return self._parse(response, UsageResult)

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
                    raise self._error(response)
                if not response.headers.get("content-type", "").startswith("text/csv"):
                    raise errors.ProtocolError("The server did not send CSV: is this the right server address?",
                                               code="unexpected_response", status=response.status_code)
                async for chunk in response.aiter_bytes():
                    yield chunk
        except httpx.TimeoutException:
            raise errors.TimeoutError(f"The server at {self.server} stopped sending the export.",
                                      code="timeout") from None
        except httpx.TransportError as failure:
            raise errors.NetworkError(f"The export from {self.server} was cut off: {_reason(failure)}.",
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
            raise self._error(response)
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
        return self._parse(response, AutoRecharge)

    async def notification_settings(self) -> NotificationSettings:
        return await self._get("/billing/notifications", NotificationSettings)

    async def put_notification_settings(self, update: NotificationSettingsUpdate) -> NotificationSettings:
        response = await self._send("PUT", "/billing/notifications", retry=True, json=update.model_dump(mode="json"))
        return self._parse(response, NotificationSettings)

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


def _retry_after(response: httpx.Response) -> float | None:
    """The server's ``Retry-After`` in seconds (it may send seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": a date with no zone is not a moment
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _busy(response: httpx.Response) -> bool:
    """A busy server's answer worth asking again: 502/503/504, or a 429 that says how long to wait;
    not when it asks for a longer wait than a person should watch a spinner for."""
    wait = _retry_after(response)
    if wait is not None and wait > MAX_RETRY_AFTER:
        return False
    return response.status_code in RETRY_STATUSES or (response.status_code == 429 and wait is not None)


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


def _reason(failure: Exception) -> str:
    text = str(failure).strip() or type(failure).__name__
    return text.splitlines()[0].rstrip(".")
