"""How the client talks to the server: one HTTP conversation, its retries, and every failure
read as one of the types in ``errors.py``.

Safe requests are retried (by ``stamina``: exponential backoff with jitter) on connection
failures and 502/503/504, and on a 429 that says how long to wait; a ``Retry-After`` of a few
seconds is waited out, a longer one is the caller's to show. The blocking one-shot client of
the CLI's quick commands (``cli/oneshot.py``) reads answers by the same rules.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Self, TypeVar

import httpx
import pydantic

from credits_tui import __version__
from credits_tui.api_client import errors
from credits_tui.api_client.models import ErrorEnvelope

API_PATH = "/api/v1"
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)
RETRY_STATUSES = frozenset({502, 503, 504})
MAX_RETRY_AFTER = 5.0  # seconds: a server that asks for a longer wait gets an error shown, not a frozen screen
MAX_BACKOFF = 5.0  # seconds: the longest wait between two attempts of our own choosing
Model = TypeVar("Model", bound=pydantic.BaseModel)

# stamina logs each retry at WARNING. Where nothing configured logging, Python would print that
# on stderr, across the screen the app draws; an app that configures logging still gets it.
logging.getLogger("stamina").addHandler(logging.NullHandler())


class AskAgain(Exception):
    """An answer worth asking for again (the server was busy, or the purchase is still running).
    If no repeat is left, the answer is the result."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")  # stamina logs this: no URL, no header
        self.response = response
        self.retry_after = retry_after(response)


class NoAnswer(Exception):
    """No answer, and a repeat is harmless. If no repeat is left, ``error`` is raised."""

    def __init__(self, error: errors.ApiError) -> None:
        super().__init__(error.code)
        self.error = error


def _backoff(failure: Exception) -> bool | float:
    """stamina's hook: repeat what an attempt marked as worth it, after the server's Retry-After
    when it gave one, else after stamina's jittered exponential backoff."""
    if isinstance(failure, AskAgain) and failure.retry_after is not None:
        return failure.retry_after
    return isinstance(failure, AskAgain | NoAnswer)


def normalise_server(server: str) -> str:
    """``https://host[:port][/prefix]`` without a trailing slash or the API path."""
    url = server.strip().rstrip("/")
    if url.endswith(API_PATH):
        url = url[: -len(API_PATH)]
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as invalid:  # e.g. a port that is not a number
        raise errors.ValidationError(f"The server address {server!r} is not a valid URL: {str(invalid).rstrip('.')}.",
                                     code="invalid_server", field="server") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise errors.ValidationError(f"The server address must start with http:// or https://, not {server!r}.",
                                     code="invalid_server", field="server")
    return url


class Conversation:
    """One signed-in (or signing-in) conversation with a server: sending, repeating, reading.
    The typed endpoints are ``CreditsClient``'s. Use as an async context manager."""

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

    async def __aenter__(self) -> Self:
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

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers | (extra or {})

    async def _repeat(self, attempts: int, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        """``send()`` up to ``attempts`` times while it raises ``AskAgain`` or ``NoAnswer``."""
        import stamina  # here: the CLI's quick commands import this module but never retry through it
        try:
            async for attempt in stamina.retry_context(on=_backoff, attempts=attempts, timeout=None,
                                                       wait_initial=self.backoff, wait_jitter=self.backoff,
                                                       wait_max=MAX_BACKOFF):
                with attempt:
                    response = await send()
        except AskAgain as last:
            return last.response
        except NoAnswer as last:
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
                raise NoAnswer(unreachable(self.server, failure)) from None
            except httpx.TimeoutException:
                late = errors.TimeoutError(f"The server at {self.server} did not answer in time.", code="timeout")
                raise (NoAnswer(late) if retry else late) from None
            except httpx.TransportError as failure:
                cut = errors.NetworkError(f"The connection to {self.server} failed: {reason(failure)}.",
                                          code="network_error")
                raise (NoAnswer(cut) if retry else cut) from None
            if retry and busy(response):
                raise AskAgain(response)
            return response

        return await self._repeat(1 + self.retries, send)

    async def _get(self, path: str, model: type[Model], params: Any = None) -> Model:
        return parse(await self._send("GET", path, retry=True, params=params), model)


def unreachable(server: str, failure: httpx.TransportError) -> errors.NetworkError:
    """No connection was made: nothing was sent, nothing started."""
    return errors.NetworkError(f"Cannot reach the server at {server}: {reason(failure)}.", code="network_error")


def parse(response: httpx.Response, model: type[Model]) -> Model:
    """The answer read as ``model``, or the error it is (``error_in``)."""
    if not response.is_success:
        raise error_in(response)
    try:
        return model.model_validate_json(response.content)
    except pydantic.ValidationError:
        raise errors.ProtocolError("The server's answer could not be read: it is incomplete or not the "
                                   "API's.", code="unexpected_response", status=response.status_code) from None


def error_in(response: httpx.Response) -> errors.ApiError:
    """The error a failed answer reports, typed by its status and the API's error code."""
    status = response.status_code
    try:
        detail = ErrorEnvelope.model_validate_json(response.content).error
    except pydantic.ValidationError:
        if status >= 500:
            return errors.ServerError(f"The server failed (HTTP {status}). Try again in a moment.",
                                      code="server_error", status=status)
        return errors.ProtocolError(f"The server sent an answer that is not the API's (HTTP {status}).",
                                    code="unexpected_response", status=status)
    return errors.error_for(status, detail.code, detail.message, detail.field, retry_after(response))


def retry_after(response: httpx.Response) -> float | None:
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


def busy(response: httpx.Response) -> bool:
    """A busy server's answer worth asking again: 502/503/504, or a 429 that says how long to wait;
    not when it asks for a longer wait than a person should watch a spinner for."""
    wait = retry_after(response)
    if wait is not None and wait > MAX_RETRY_AFTER:
        return False
    return response.status_code in RETRY_STATUSES or (response.status_code == 429 and wait is not None)


def reason(failure: Exception) -> str:
    """The first line of a transport failure's message, to end a sentence with."""
    text = str(failure).strip() or type(failure).__name__
    return text.splitlines()[0].rstrip(".")
