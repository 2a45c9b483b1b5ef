"""Helpers for the client tests: servers on loopback, and a plain HTTP view of the real backend.

``RawApi`` talks to the backend with bare httpx (not the client under test), so tests can
check what the client did against an independent account of the server's state.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx

from credits_tui.backend.demo import DEMO_PASSWORD
from credits_tui.embedded import LoopbackServer, free_port


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()


@contextlib.contextmanager
def serve_asgi(app: Callable[..., Any]) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yields ``http://127.0.0.1:PORT``."""
    with LoopbackServer(app, log_level="critical", lifespan="off", timeout_graceful_shutdown=2) as server:
        yield server.url


def read_request(conn: socket.socket) -> bytes | None:
    """One HTTP/1.1 request (head and Content-Length body) from ``conn``; None at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class RawServer:
    """A TCP server on loopback whose ``handler(conn, server)`` does whatever a test needs
    (answer badly, answer half, never answer). Records every request it reads."""

    def __init__(self, handler: Callable[[socket.socket, RawServer], None]) -> None:
        self.handler = handler
        self.requests: list[bytes] = []
        self.connections = 0
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def read(self, conn: socket.socket) -> bytes | None:
        request = read_request(conn)
        if request is not None:
            with self._lock:
                self.requests.append(request)
        return request

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(None)
            with self._lock:
                self.connections += 1
                self._open.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.handler(conn, self)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.close()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def loopback_http(**kwargs: Any) -> httpx.Client:
    """A client for the test servers, plain http on loopback: no TLS, so no CA bundle to load.
    httpx loads one for every client made with its defaults (``httpx.get`` included), 70–170 ms
    of CPU each on this machine: a server's start-up poll made one every 50 ms."""
    return httpx.Client(verify=False, **kwargs)


class RawApi:
    """The real backend over bare httpx, for checks that do not trust the client under test."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url

    def request(self, method: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with loopback_http(timeout=10) as http:
            return http.request(method, f"{self.api_url}{path}", headers=headers, **kwargs)

    def sign_in_response(self, email: str, password: str = DEMO_PASSWORD) -> httpx.Response:
        return self.request("POST", "/auth/tokens", json={"email": email, "password": password})

    def token(self, email: str, password: str = DEMO_PASSWORD) -> str:
        response = self.sign_in_response(email, password)
        assert response.status_code == 201, response.text
        return response.json()["token"]

    def get(self, path: str, token: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, token, **kwargs)

    def balance(self, token: str) -> Decimal:
        response = self.get("/account/status", token)
        assert response.status_code == 200, response.text
        return Decimal(response.json()["purchase_credits"])

    def count(self, token: str, **params) -> int:
        response = self.get("/credits/transactions/summary", token, params=params)
        assert response.status_code == 200, response.text
        return response.json()["count"]
