"""One request without an event loop: the path of quick commands such as ``balance --json``.

``asyncio`` (and ``stamina``, which the async client retries with) cost a quick command a good
part of its start-up; a blocking httpx client answers the same. The answer is read, and every
failure typed, by the async client's own rules (``parse``, ``busy`` and ``retry_after`` of
``api_client/transport.py``): this module adds only the blocking transport and its waits.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any, TypeVar

import httpx
import pydantic

from credits_tui import __version__
from credits_tui.api_client import errors
from credits_tui.api_client.transport import (
    API_PATH,
    DEFAULT_TIMEOUT,
    MAX_BACKOFF,
    NoAnswer,
    busy,
    parse,
    reason,
    retry_after,
)

Model = TypeVar("Model", bound=pydantic.BaseModel)


class OneShotClient:
    """A signed-in blocking client for safe requests (GET). Use as a context manager."""

    def __init__(self, server: str, token: str, *, retries: int = 2, backoff: float = 0.25,
                 transport: httpx.BaseTransport | None = None) -> None:
        # httpcore imports trio, when it is installed, for async code this client never runs: a
        # tenth of a second of a quick command. A process that has not loaded trio is told it is
        # absent, which httpcore takes as "no trio support".
        sys.modules.setdefault("trio", None)  # type: ignore[arg-type]
        self.server = server
        self.token = token
        self.retries = retries
        self.backoff = backoff
        self._http = httpx.Client(
            base_url=server + API_PATH, timeout=DEFAULT_TIMEOUT, transport=transport,
            headers={"User-Agent": f"credits-tui/{__version__}", "Accept": "application/json",
                     "Authorization": f"Bearer {token}"},
            verify=server.startswith("https://"),  # as the async client: plain http loads no CA bundle
        )

    def __enter__(self) -> OneShotClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def get(self, path: str, model: type[Model], params: Any = None) -> Model:
        """GET ``path`` as ``model``; asked again, as the async client does, when no answer came or
        the server was busy (after its Retry-After, else a jittered exponential backoff)."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._send(path, params)
            except NoAnswer as failure:
                if last:
                    raise failure.error from None
                wait = None
            else:
                if last or not busy(response):
                    break
                wait = retry_after(response)
            time.sleep(wait if wait is not None else
                       min(MAX_BACKOFF, self.backoff * 2 ** attempt) + random.uniform(0, self.backoff))
        return parse(response, model)

    def _send(self, path: str, params: Any) -> httpx.Response:
        try:
            return self._http.get(path, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout) as failure:
            raise NoAnswer(errors.NetworkError(f"Cannot reach the server at {self.server}: {reason(failure)}.",
                                               code="network_error")) from None
        except httpx.TimeoutException:
            raise NoAnswer(errors.TimeoutError(f"The server at {self.server} did not answer in time.",
                                               code="timeout")) from None
        except httpx.TransportError as failure:
            raise NoAnswer(errors.NetworkError(f"The connection to {self.server} failed: {reason(failure)}.",
                                               code="network_error")) from None
