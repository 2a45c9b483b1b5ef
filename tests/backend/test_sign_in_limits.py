"""The failed sign-in limits under attack (issue 8): parallel guessing gets no more password
checks than serial guessing, on both databases and across worker processes; a guesser at one
address cannot lock the user out at another; a 429 says nothing about the password.

Addresses are told apart the way a deployment behind a reverse proxy does it: the proxy (here
the test, on loopback) names the client in X-Forwarded-For, which uvicorn trusts from
``--forwarded-allow-ips`` (loopback by default).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.migrate import alembic_config, upgrade
from credits_tui.backend.demo import DEMO_PASSWORD
from credits_tui.backend.services import auth
from credits_tui.embedded import free_port
from tests.support import loopback_http, serve_asgi

REPO = Path(__file__).resolve().parents[2]
SUPPORT = "support@demo.example"
ADMIN = "admin@demo.example"
ATTACKER = "203.0.113.7"
USER_AT_HOME = "198.51.100.9"
DEFAULTS = Settings(database_url="sqlite://")


def sign_in(client: httpx.Client | TestClient, email: str, password: str, address: str) -> httpx.Response:
    return client.post("/api/v1/auth/tokens", json={"email": email, "password": password},
                       headers={"X-Forwarded-For": address})


def burst(base_url: str, requests: list[tuple[str, str, str]]) -> Counter[int]:
    """Send every (email, password, address) sign-in at the same moment; count the statuses."""
    start = threading.Barrier(len(requests))
    statuses: list[int] = []

    def one(email: str, password: str, address: str) -> None:
        with loopback_http(base_url=base_url, timeout=60) as client:
            start.wait()
            statuses.append(sign_in(client, email, password, address).status_code)

    threads = [threading.Thread(target=one, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(statuses)


@pytest.fixture(autouse=True)
def _cheap_unknown_email_check(monkeypatch: pytest.MonkeyPatch, demo_password_hash: str) -> None:
    monkeypatch.setattr(auth, "_dummy_hash", lambda: demo_password_hash)


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password the server verified, in this process."""
    checks: list[str] = []
    verify = auth._password_matches

    def counted(password_hash: str, password: str) -> bool:
        checks.append(password)
        return verify(password_hash, password)

    monkeypatch.setattr(auth, "_password_matches", counted)
    return checks


@pytest.fixture
def server(seeded: Database, settings: Settings) -> Iterator[str]:
    """The app with the default limits on uvicorn in a thread: real HTTP, real parallel requests."""
    with serve_asgi(create_app(settings, database=seeded)) as base:
        yield base


@pytest.fixture
def small_limits(database_url: str) -> Settings:
    return Settings(database_url=database_url, login_failures_per_email_and_client=2,
                    login_failures_per_email=5, login_failures_per_client=8)


@contextmanager
def behind_proxy(settings: Settings, database: Database) -> Iterator[TestClient]:
    """The app in-process behind uvicorn's proxy-header handling."""
    app = ProxyHeadersMiddleware(create_app(settings, database=database), trusted_hosts="*")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def in_process(seeded: Database, small_limits: Settings) -> Iterator[TestClient]:
    with behind_proxy(small_limits, seeded) as client:
        yield client


@pytest.fixture
def small_server(seeded: Database, small_limits: Settings) -> Iterator[str]:
    with serve_asgi(create_app(small_limits, database=seeded)) as base:
        yield base


# --- parallel guessing ----------------------------------------------------------------------


def test_parallel_guesses_at_one_email_get_no_more_checks_than_the_limit(server, password_checks):
    allowed = DEFAULTS.login_failures_per_email_and_client
    statuses = burst(server, [(SUPPORT, f"guess-{n}", ATTACKER) for n in range(4 * allowed)])
    assert statuses == {401: allowed, 429: 3 * allowed}, statuses
    assert len(password_checks) == allowed


def test_parallel_guesses_across_emails_stop_at_the_per_address_limit(small_server, small_limits,
                                                                      password_checks):
    # Unknown emails cost a password check too (against a dummy hash), so they count alike.
    allowed = small_limits.login_failures_per_client
    statuses = burst(small_server, [(f"ghost{n}@demo.example", "guess", ATTACKER) for n in range(2 * allowed)])
    assert statuses == {401: allowed, 429: allowed}, statuses
    assert len(password_checks) == allowed
    # Another address is not held back by that one.
    with loopback_http(base_url=small_server) as client:
        assert sign_in(client, "ghost0@demo.example", "guess", USER_AT_HOME).status_code == 401


# --- not a weapon -----------------------------------------------------------------------------


def test_a_guesser_at_one_address_cannot_lock_the_user_out_at_another(server):
    with loopback_http(base_url=server) as client:
        for n in range(DEFAULTS.login_failures_per_email_and_client):
            assert sign_in(client, SUPPORT, f"guess-{n}", ATTACKER).status_code == 401
        assert sign_in(client, SUPPORT, "guess", ATTACKER).status_code == 429
        assert sign_in(client, SUPPORT, DEMO_PASSWORD, ATTACKER).status_code == 429

        at_home = sign_in(client, SUPPORT, DEMO_PASSWORD, USER_AT_HOME)
        assert at_home.status_code == 201, at_home.text
        assert at_home.json()["user"]["email"] == SUPPORT
        # ... and a slip at home is the user's own: it is told as a wrong password, not a lock.
        assert sign_in(client, SUPPORT, "typo", USER_AT_HOME).status_code == 401


def test_a_limited_answer_is_the_same_for_the_right_and_a_wrong_password(in_process, small_limits,
                                                                         password_checks):
    with time_machine.travel(datetime(2026, 11, 2, 9, 30, tzinfo=UTC), tick=False):
        for n in range(small_limits.login_failures_per_email_and_client):
            assert sign_in(in_process, ADMIN, f"guess-{n}", ATTACKER).status_code == 401
        checked = len(password_checks)
        wrong = sign_in(in_process, ADMIN, "guess", ATTACKER)
        right = sign_in(in_process, ADMIN, DEMO_PASSWORD, ATTACKER)
    assert password_checks[checked:] == [], "no password is checked while limited"
    assert wrong.status_code == right.status_code == 429
    assert wrong.json() == right.json()
    assert wrong.json()["error"]["code"] == "too_many_attempts"
    assert wrong.headers["Retry-After"] == right.headers["Retry-After"]
    assert int(right.headers["Retry-After"]) == small_limits.login_window.total_seconds()
    assert "token" not in right.text


def test_the_per_email_ceiling_bounds_guessing_spread_over_addresses(in_process, small_limits):
    per_pair, ceiling = small_limits.login_failures_per_email_and_client, small_limits.login_failures_per_email
    addresses = [f"192.0.2.{n}" for n in range(10)]
    statuses = [sign_in(in_process, ADMIN, "guess", address).status_code
                for address in addresses for _ in range(per_pair)]
    assert statuses.count(401) == ceiling, statuses
    assert sign_in(in_process, ADMIN, DEMO_PASSWORD, "192.0.2.99").status_code == 429


def test_the_limit_lifts_when_the_window_has_passed(in_process, small_limits):
    start = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(small_limits.login_failures_per_email_and_client):
            assert sign_in(in_process, ADMIN, "guess", ATTACKER).status_code == 401
        clock.shift(timedelta(minutes=5))
        limited = sign_in(in_process, ADMIN, DEMO_PASSWORD, ATTACKER)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) == (small_limits.login_window - timedelta(minutes=5)).seconds
        clock.shift(small_limits.login_window - timedelta(minutes=5))
        assert sign_in(in_process, ADMIN, DEMO_PASSWORD, ATTACKER).status_code == 201


def test_a_good_sign_in_forgives_that_address_only(in_process, small_limits):
    for address in (ATTACKER, USER_AT_HOME):
        for _ in range(small_limits.login_failures_per_email_and_client - 1):
            assert sign_in(in_process, ADMIN, "guess", address).status_code == 401
    assert sign_in(in_process, ADMIN, DEMO_PASSWORD, USER_AT_HOME).status_code == 201
    # Home starts afresh; the guesser's earlier failure still counts.
    assert sign_in(in_process, ADMIN, "typo", USER_AT_HOME).status_code == 401
    assert sign_in(in_process, ADMIN, "guess", ATTACKER).status_code == 401
    assert sign_in(in_process, ADMIN, "guess", ATTACKER).status_code == 429


def test_an_upgrade_keeps_a_running_limit(seeded, small_limits):
    config = alembic_config()
    with seeded.write_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    # Failures recorded by the previous version, a minute ago (naive UTC, as stored).
    a_minute_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    with seeded.write_engine.begin() as connection:
        connection.execute(text("INSERT INTO login_failures (email, client, created_at) VALUES (:e, :c, :t)"),
                           [{"e": ADMIN, "c": ATTACKER, "t": a_minute_ago}] * 2)
    upgrade(seeded)
    with behind_proxy(small_limits, seeded) as client:
        assert sign_in(client, ADMIN, DEMO_PASSWORD, ATTACKER).status_code == 429
        assert sign_in(client, ADMIN, DEMO_PASSWORD, USER_AT_HOME).status_code == 201


# --- several worker processes -----------------------------------------------------------------


@pytest.fixture
def workers(seeded: Database, database_url: str) -> Iterator[str]:
    """``credits-tui serve --workers 2`` on the seeded database, on a free loopback port."""
    port = free_port()
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop("FORWARDED_ALLOW_IPS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "credits_tui.cli", "serve", "--port", str(port), "--workers", "2",
         "--database-url", database_url, "--forwarded-allow-ips", "127.0.0.1", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # three processes importing the server stack on a busy CI box
    try:
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "serve did not start"
            try:
                with loopback_http(timeout=1) as http:
                    if http.get(f"{base}/api/v1/me").status_code == 401:
                        break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_parallel_guesses_against_several_workers_get_no_more_checks_than_the_limit(workers):
    allowed = DEFAULTS.login_failures_per_email_and_client
    statuses = burst(workers, [(ADMIN, f"guess-{n}", ATTACKER) for n in range(4 * allowed)])
    assert statuses == {401: allowed, 429: 3 * allowed}, statuses
    # The workers told the addresses apart: the user at home still signs in.
    with loopback_http(base_url=workers) as client:
        assert sign_in(client, ADMIN, DEMO_PASSWORD, USER_AT_HOME).status_code == 201
