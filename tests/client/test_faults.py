"""The client against servers that misbehave: lost answers, refused connections, 5xx, HTML,
truncated bodies, silence. Each server is real (uvicorn or a raw socket) on loopback.

Whatever happens, the caller sees one of the client's error types (never a raw httpx or
pydantic exception), a purchase lands at most once, and no error text holds the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import TransactionQuery, UsageRequest
from credits_tui.backend.api.app import create_app
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import Purchase
from credits_tui.backend.services.payments import TestGateway
from tests.support import RawServer, closed_port, serve_asgi
from tests.support.backend import ADMIN

TOKEN = "tok-SECRET-a1b2c3d4e5f6"
FAST = httpx.Timeout(2.0, read=0.5)

ME = {"id": 1, "email": ADMIN, "name": "Ada Admin", "role": "admin", "account": {"id": 1, "name": "Demo Co."}}
TRANSACTION = {"id": 1, "created_at": "2026-11-01T10:00:00Z", "transaction_type": "purchase", "process_type": None,
               "user": None, "amount": "25.00", "balance_after": "25.00", "description": "Purchase of 25.00 credits",
               "reference": None}


def assert_no_token(error: BaseException, token: str = TOKEN) -> None:
    for text in (str(error), repr(error), getattr(error, "message", ""), *map(str, error.args)):
        assert token not in text


def purchases(database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(Purchase))


class Scripted:
    """An ASGI app that answers each request with the next scripted (status, content type,
    body[, extra headers]), and the last one forever; records method, path and headers of
    every request, and when it came (``times``, monotonic)."""

    def __init__(self, *answers: tuple[int, str, bytes] | tuple[int, str, bytes, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.times: list[float] = []

    async def __call__(self, scope, receive, send) -> None:
        assert scope["type"] == "http"
        message = await receive()
        while message["type"] == "http.request" and message.get("more_body"):
            message = await receive()
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append((scope["method"], scope["path"] + "?" + scope["query_string"].decode(), headers))
        self.times.append(time.monotonic())
        status, content_type, body, *extra = self.answers[min(len(self.requests), len(self.answers)) - 1]
        more = [(name.encode(), value.encode()) for name, value in (extra[0] if extra else {}).items()]
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode()),
                                (b"content-length", str(len(body)).encode()), *more]})
        await send({"type": "http.response.body", "body": body})


HTML = "text/html; charset=utf-8"
JSON = "application/json"
HTML_PAGE = b"<!doctype html><html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"


def client(server: str, token: str | None = TOKEN, **kwargs) -> CreditsClient:
    options = {"timeout": FAST, "retries": 2, "backoff": 0.01} | kwargs
    return CreditsClient(server, token, **options)


# --- (a) a purchase whose answer is lost is retried with the same key, and lands once --------


class LoseFirstPurchaseAnswer:
    """In front of the real app: the first purchase is processed by it, but its answer is held
    back longer than the client waits. Everything else passes straight through."""

    def __init__(self, app, hold: float) -> None:
        self.app = app
        self.hold = hold
        self.keys: list[str | None] = []
        self.first_status: int | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/credits/purchases"):
            headers = dict(scope["headers"])
            self.keys.append(headers.get(b"idempotency-key", b"").decode() or None)
            if len(self.keys) == 1:
                held: list[dict] = []

                async def hold_back(message: dict) -> None:
                    held.append(message)

                await self.app(scope, receive, hold_back)  # the real backend commits the purchase
                self.first_status = held[0]["status"]
                await asyncio.sleep(self.hold)  # ... but the answer comes too late
                try:
                    for message in held:
                        await send(message)
                except Exception:
                    pass
                return
        await self.app(scope, receive, send)


async def test_purchase_answer_lost_to_a_timeout_is_retried_with_the_same_key_and_charged_once(
        seeded, settings, raw):
    token = raw.token(ADMIN)
    before, purchases_before = raw.balance(token), purchases(seeded)
    # The retry has 1.5 s to be answered (a busy machine's test workers slow it), the first answer
    # comes after 3 s: well after the client gave up on it.
    proxy = LoseFirstPurchaseAnswer(create_app(settings, database=seeded), hold=3.0)
    with serve_asgi(proxy) as url:
        async with CreditsClient(url, token, timeout=httpx.Timeout(5.0, read=1.5), retries=2,
                                 backoff=0.05) as buyer:
            result = await buyer.purchase("33.00")
    assert proxy.first_status == 201  # the first attempt really was charged
    assert len(proxy.keys) == 2 and proxy.keys[0] == proxy.keys[1] and proxy.keys[0]
    assert result.purchase.amount == Decimal("33.00")
    assert result.purchase_credits == before + Decimal("33.00")
    # Checked on the real backend: the balance rose exactly once.
    assert raw.balance(token) == before + Decimal("33.00")
    assert purchases(seeded) == purchases_before + 1


class DropFirstPurchaseConnection:
    """A TCP proxy to the real backend that closes the client's connection as soon as the
    backend starts answering the first purchase (the answer never arrives)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.purchase_requests: list[bytes] = []
        self.dropped = threading.Event()
        self._lock = threading.Lock()
        self.server = RawServer(self._handle)

    def _handle(self, conn: socket.socket, server: RawServer) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        drop = threading.Event()

        def pump_up() -> None:
            try:
                while request := server.read(conn):
                    if b"POST /api/v1/credits/purchases" in request.split(b"\r\n", 1)[0]:
                        with self._lock:
                            self.purchase_requests.append(request)
                            if len(self.purchase_requests) == 1:
                                drop.set()
                    upstream.sendall(request)
            except OSError:
                pass
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)  # the client is done: let the backend close

        threading.Thread(target=pump_up, daemon=True).start()
        try:
            while data := upstream.recv(65536):
                if drop.is_set():
                    self.dropped.set()
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                    break
                conn.sendall(data)
        finally:
            upstream.close()


def idempotency_key(request: bytes) -> str:
    for line in request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"idempotency-key":
            return value.strip().decode()
    raise AssertionError("the purchase carried no Idempotency-Key")


async def test_purchase_connection_dropped_after_commit_is_retried_with_the_same_key(
        live_server, seeded, raw):
    token = raw.token(ADMIN)
    before, purchases_before = raw.balance(token), purchases(seeded)
    proxy = DropFirstPurchaseConnection(httpx.URL(live_server).port)
    with proxy.server:
        async with client(proxy.server.url, token, timeout=httpx.Timeout(5.0)) as buyer:
            result = await buyer.purchase("12.50")
    assert proxy.dropped.is_set()
    keys = [idempotency_key(r) for r in proxy.purchase_requests]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert result.purchase_credits == before + Decimal("12.50")
    assert raw.balance(token) == before + Decimal("12.50")
    assert purchases(seeded) == purchases_before + 1


async def test_two_purchases_with_a_lost_answer_each_land_once(live_server, seeded, raw):
    """A retried purchase must not swallow the next one: a new call gets a new key."""
    token = raw.token(ADMIN)
    before, purchases_before = raw.balance(token), purchases(seeded)
    proxy = DropFirstPurchaseConnection(httpx.URL(live_server).port)
    with proxy.server:
        async with client(proxy.server.url, token, timeout=httpx.Timeout(5.0)) as buyer:
            await buyer.purchase("5.00")
            await buyer.purchase("5.00")
    keys = [idempotency_key(r) for r in proxy.purchase_requests]
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]
    assert raw.balance(token) == before + Decimal("10.00")
    assert purchases(seeded) == purchases_before + 2


# --- (b) nothing listens ----------------------------------------------------------------------


async def test_connection_refused_is_a_network_error_quickly_after_retries():
    port = closed_port()
    started = time.monotonic()
    async with client(f"http://127.0.0.1:{port}", retries=2, backoff=0.05) as c:
        with pytest.raises(errors.NetworkError) as refused:
            await c.status()
        with pytest.raises(errors.NetworkError) as refused_purchase:
            await c.purchase("5.00")
    elapsed = time.monotonic() - started
    assert not isinstance(refused.value, errors.TimeoutError)
    assert elapsed >= 2 * (0.05 + 0.1)  # it did back off and retry, twice for each call
    assert elapsed < 3.0
    for error in (refused.value, refused_purchase.value):
        assert f"127.0.0.1:{port}" in error.message
        assert_no_token(error)


# --- (c) server errors and retries --------------------------------------------------------------


async def test_500_with_an_html_body_is_a_server_error_and_not_retried():
    app = Scripted((500, HTML, b"<html><body>Internal Server Error: Traceback ...</body></html>"))
    with serve_asgi(app) as url:
        async with client(url) as c:
            with pytest.raises(errors.ServerError) as failed:
                await c.me()
    assert failed.value.status == 500 and failed.value.message
    assert "<html" not in failed.value.message
    assert len(app.requests) == 1
    assert_no_token(failed.value)


async def test_503_twice_then_200_succeeds_on_a_get():
    app = Scripted((503, HTML, b"<html>busy</html>"), (503, HTML, b"<html>busy</html>"),
                   (200, JSON, json.dumps(ME).encode()))
    with serve_asgi(app) as url:
        async with client(url) as c:
            me = await c.me()
    assert me.email == ADMIN
    assert [(method, path.split("?")[0]) for method, path, _ in app.requests] == [("GET", "/api/v1/me")] * 3
    # Every attempt was signed, in a header and never in the URL.
    assert all(headers["authorization"] == f"Bearer {TOKEN}" for _, _, headers in app.requests)
    assert all(TOKEN not in path for _, path, _ in app.requests)


async def test_503_on_every_attempt_gives_up_with_a_server_error():
    app = Scripted((503, JSON, json.dumps({"error": {"code": "maintenance", "message": "Back at noon.",
                                                      "field": None}}).encode()))
    with serve_asgi(app) as url:
        async with client(url, retries=2) as c:
            with pytest.raises(errors.ServerError) as failed:
                await c.status()
    assert len(app.requests) == 3
    assert failed.value.message == "Back at noon." and failed.value.status == 503


async def test_usage_is_not_retried_on_503():
    app = Scripted((503, HTML, b"<html>busy</html>"), (201, JSON, b"{}"))
    with serve_asgi(app) as url:
        async with client(url) as c:
            with pytest.raises(errors.ServerError):
                await c.record_usage(UsageRequest(process_type="postcard", quantity=1))
    assert [method for method, _, _ in app.requests] == ["POST"]


async def test_purchase_is_retried_on_503_with_the_same_key():
    app = Scripted((503, HTML, b"<html>busy</html>"))
    with serve_asgi(app) as url:
        async with client(url, retries=2) as c:
            with pytest.raises(errors.ServerError):
                await c.purchase("5.00")
    keys = [headers.get("idempotency-key") for _, _, headers in app.requests]
    assert len(keys) == 3 and keys[0] and len(set(keys)) == 1


def envelope(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "field": None}}).encode()


async def test_a_short_retry_after_is_waited_out_then_the_get_succeeds():
    app = Scripted((429, JSON, envelope("too_many_requests", "Slow down."), {"Retry-After": "1"}),
                   (503, HTML, b"<html>busy</html>", {"Retry-After": "1"}),
                   (200, JSON, json.dumps(ME).encode()))
    with serve_asgi(app) as url:
        async with client(url, retries=2, backoff=0.01) as c:
            me = await c.me()
    assert me.email == ADMIN
    assert len(app.requests) == 3
    # The server's wait, not the client's 0.01 s backoff.
    assert all(later - earlier >= 0.95 for earlier, later in zip(app.times, app.times[1:], strict=False))


@pytest.mark.parametrize("retry_after", ["120", "date"])
async def test_a_long_retry_after_is_not_waited_out_but_reported(retry_after):
    if retry_after == "date":
        retry_after = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=120), usegmt=True)
    app = Scripted((429, JSON, envelope("too_many_requests", "Slow down."), {"Retry-After": retry_after}))
    with serve_asgi(app) as url:
        async with client(url, retries=2) as c:
            started = time.monotonic()
            with pytest.raises(errors.RateLimitedError) as limited:
                await c.status()
    assert time.monotonic() - started < 1.0 and len(app.requests) == 1
    assert limited.value.message == "Slow down." and 100 < limited.value.retry_after <= 120


async def test_a_429_that_does_not_say_how_long_is_not_retried():
    app = Scripted((429, JSON, envelope("too_many_requests", "Slow down.")), (200, JSON, json.dumps(ME).encode()))
    with serve_asgi(app) as url:
        async with client(url, retries=2) as c:
            with pytest.raises(errors.RateLimitedError) as limited:
                await c.me()
    assert len(app.requests) == 1 and limited.value.retry_after is None


async def test_a_503_asking_for_a_long_wait_is_reported_at_once():
    app = Scripted((503, JSON, envelope("maintenance", "Back at noon."), {"Retry-After": "3600"}))
    with serve_asgi(app) as url:
        async with client(url, retries=2) as c:
            with pytest.raises(errors.ServerError) as failed:
                await c.purchase("5.00")
    assert len(app.requests) == 1 and failed.value.message == "Back at noon."


async def test_backoff_is_jittered():
    """Clients that failed together do not all come back at the same instant."""
    app = Scripted((503, HTML, b"<html>busy</html>"))

    async def fail_once_more(number: int) -> None:
        async with client(url, retries=1, backoff=0.2) as c:
            with pytest.raises(errors.ServerError):
                await c.transactions(limit=number)  # the limit tells the clients' requests apart

    with serve_asgi(app) as url:
        await asyncio.gather(*(fail_once_more(number) for number in range(1, 13)))
    times: dict[str, list[float]] = {}
    for (_, path, _), at in zip(app.requests, app.times, strict=True):
        times.setdefault(path, []).append(at)
    gaps = [second - first for first, second in times.values()]
    assert len(gaps) == 12 and all(0.2 <= gap < 0.6 for gap in gaps)
    # Each wait is 0.2 s plus a random 0-0.2 s: twelve all within 0.06 s would be a 1-in-10^4 fluke.
    assert max(gaps) - min(gaps) > 0.06


# --- (d) an answer that is not the API's -------------------------------------------------------


@pytest.mark.parametrize(("status", "content_type", "body"), [
    (200, HTML, HTML_PAGE),
    (200, JSON, b'{"unexpected": true}'),
    (200, JSON, b'{"id": 1, "email": "a@b.c", "name": '),   # complete per HTTP, cut JSON
    (200, JSON, b""),
    (404, HTML, b"<html>Not Found</html>"),                   # not the API at this address
    (401, "text/plain", b"go away"),
])
async def test_an_answer_that_is_not_the_api_is_a_protocol_error(status, content_type, body):
    with serve_asgi(Scripted((status, content_type, body))) as url:
        async with client(url) as c:
            with pytest.raises(errors.ProtocolError) as odd:
                await c.me()
    assert odd.value.message and "<html" not in odd.value.message
    assert_no_token(odd.value)


async def test_an_html_404_for_the_card_is_not_taken_for_no_card():
    with serve_asgi(Scripted((404, HTML, b"<html>Not Found</html>"))) as url:
        async with client(url) as c:
            with pytest.raises(errors.ProtocolError):
                await c.card()


# --- (e) a body cut short --------------------------------------------------------------------


def truncated(conn: socket.socket, server: RawServer) -> None:
    if server.read(conn) is None:
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                 b'{"id": 1, "email": "admin@demo.example"')
    conn.close()


def truncated_chunked(conn: socket.socket, server: RawServer) -> None:
    if server.read(conn) is None:
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"10\r\nid,created_at,tra\r\n40\r\nnsaction_type")
    conn.close()


async def test_a_truncated_body_is_a_client_error_not_a_raw_exception():
    with RawServer(truncated) as server:
        async with client(server.url) as c:
            with pytest.raises((errors.NetworkError, errors.ProtocolError)) as cut:
                await c.me()
            with pytest.raises((errors.NetworkError, errors.ProtocolError)) as cut_purchase:
                await c.purchase("5.00")
    assert cut.value.message and cut_purchase.value.message
    assert_no_token(cut.value)
    assert_no_token(cut_purchase.value)
    assert len(server.requests) == 6  # each call tried 1 + 2 times


async def test_a_truncated_csv_export_is_a_network_error():
    with RawServer(truncated_chunked) as server:
        async with client(server.url) as c:
            with pytest.raises(errors.NetworkError) as cut:
                async for _ in c.stream_csv(TransactionQuery()):
                    pass
    assert cut.value.message
    assert_no_token(cut.value)


# --- (f) silence -------------------------------------------------------------------------------


def silent(conn: socket.socket, server: RawServer) -> None:
    """Read the request, then say nothing until the test ends."""
    server.read(conn)
    while not server.stopping:
        time.sleep(0.02)


async def test_a_server_that_never_answers_times_out_within_the_timeout():
    with RawServer(silent) as server:
        async with client(server.url, timeout=httpx.Timeout(2.0, read=0.3), retries=0) as c:
            started = time.monotonic()
            with pytest.raises(errors.TimeoutError) as late:
                await c.me()
            elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 0.3 + 1.2  # the read timeout, not the default 30 s
    assert isinstance(late.value, errors.NetworkError)  # a timeout is a network problem too
    assert late.value.message
    assert_no_token(late.value)
    assert len(server.requests) == 1


async def test_silence_is_retried_for_a_get_but_not_for_usage():
    with RawServer(silent) as server:
        async with client(server.url, timeout=httpx.Timeout(2.0, read=0.2), retries=2, backoff=0.01) as c:
            started = time.monotonic()
            with pytest.raises(errors.TimeoutError):
                await c.status()
            assert time.monotonic() - started < 3 * 0.2 + 1.5
            assert len(server.requests) == 3
            with pytest.raises(errors.TimeoutError) as late:
                await c.record_usage(UsageRequest(process_type="postcard", quantity=1))
    assert len(server.requests) == 4
    assert_no_token(late.value)


async def test_a_silent_purchase_retries_with_one_key_then_times_out():
    with RawServer(silent) as server:
        async with client(server.url, timeout=httpx.Timeout(2.0, read=0.2), retries=2) as c:
            with pytest.raises(errors.TimeoutError) as late:
                await c.purchase("5.00", idempotency_key="key-123")
    assert [idempotency_key(r) for r in server.requests] == ["key-123"] * 3
    assert all(TOKEN.encode() not in r.split(b"\r\n", 1)[0] for r in server.requests)  # not in the URL
    assert_no_token(late.value)


class SlowFirstCharge(TestGateway):
    """The payment processor takes longer than the client waits, once."""

    __test__ = False

    def __init__(self, database: Database, delay: float) -> None:
        super().__init__(database)
        self.delay = delay
        self.charges: list[str] = []

    def charge(self, token: str, amount_cents: int, *, idempotency_key: str):
        self.charges.append(idempotency_key)
        if len(self.charges) == 1:
            time.sleep(self.delay)
        return super().charge(token, amount_cents, idempotency_key=idempotency_key)


async def test_a_retry_that_finds_the_first_attempt_still_running_waits_for_its_result(seeded, settings, raw):
    token = raw.token(ADMIN)
    before, purchases_before = raw.balance(token), purchases(seeded)
    # The first attempt gives up at 0.7 s while the charge takes 1.5 s; the retry then has 0.7 s
    # to hear "still in progress" even on a busy machine, and the in-progress waits add up to more.
    gateway = SlowFirstCharge(seeded, delay=1.5)
    with serve_asgi(create_app(settings, database=seeded, gateway=gateway)) as url:
        async with CreditsClient(url, token, timeout=httpx.Timeout(5.0, read=0.7), retries=1,
                                 backoff=0.05) as buyer:
            result = await buyer.purchase("21.00")
    assert gateway.charges and len(set(gateway.charges)) == 1  # charged (if ever again) with one key
    assert len(gateway.charges) == 1  # the retries found the key in progress, then done
    assert result.purchase_credits == before + Decimal("21.00")
    assert raw.balance(token) == before + Decimal("21.00")
    assert purchases(seeded) == purchases_before + 1


def stalls_mid_export(conn: socket.socket, server: RawServer) -> None:
    if server.read(conn) is None:
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nid,\r\n")
    while not server.stopping:
        time.sleep(0.02)


async def test_a_csv_export_that_stalls_mid_way_times_out():
    with RawServer(stalls_mid_export) as server:
        async with client(server.url, timeout=httpx.Timeout(2.0, read=0.3)) as c:
            received: list[bytes] = []
            started = time.monotonic()
            with pytest.raises(errors.TimeoutError) as late:
                async for chunk in c.stream_csv():
                    received.append(chunk)
            assert time.monotonic() - started < 0.3 + 1.5
    assert b"".join(received) == b"id,"  # what came before the stall was passed on
    assert_no_token(late.value)


async def test_an_html_page_instead_of_the_csv_export_is_a_protocol_error():
    app = Scripted((200, HTML, HTML_PAGE))
    with serve_asgi(app) as url:
        async with client(url) as c:
            with pytest.raises(errors.ProtocolError):
                async for _ in c.stream_csv():
                    pass


async def test_a_server_that_repeats_a_page_does_not_keep_the_client_reading_forever():
    page = {"items": [TRANSACTION], "next_cursor": "djE6MQ"}
    app = Scripted((200, JSON, json.dumps(page).encode()))
    with serve_asgi(app) as url:
        async with client(url) as c:
            with pytest.raises(errors.ProtocolError):
                async for _ in c.iter_transactions():
                    pass
    assert len(app.requests) == 2
