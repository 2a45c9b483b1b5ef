"""An httpx transport around the backend in-process that records what the app asks."""

from __future__ import annotations

from collections import Counter

import httpx


class RecordingTransport(httpx.AsyncBaseTransport):
    """Counts the requests per path (``paths``) and notes when each was asked and answered
    (``events``: ``"asked /me"``, ``"answered /me"``); ``fail`` names paths whose next request
    gets a 500 instead (once each: not an answer the client repeats)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: Counter[str] = Counter()
        self.events: list[str] = []
        self.fail: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1")
        self.paths[path] += 1
        self.events.append(f"asked {path}")
        if path in self.fail:
            self.fail.discard(path)
            return httpx.Response(500, json={"error": {"code": "internal_error", "message": "Something broke."}})
        response = await self.inner.handle_async_request(request)
        self.events.append(f"answered {path}")
        return response


def recording(app) -> RecordingTransport:
    """Put a ``RecordingTransport`` between ``app`` (not started yet) and its backend."""
    assert app.connection.transport is not None
    transport = app.connection.transport = RecordingTransport(app.connection.transport)
    return transport
