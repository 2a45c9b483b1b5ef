"""The server's own output never holds a token, a password, a card number or a CVC (DESIGN.md §2-§3).

Runs the real ``credits-tui serve --demo`` in a subprocess at debug log level with the access
log on, drives it over HTTP, and reads everything it wrote.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from credits_tui.embedded import free_port as _free_port
from tests.support import loopback_http
from tests.support.processes import wait_until_serving

TOKEN_RE = re.compile(r"ct_[A-Za-z0-9_-]{20,}")
NUMBER = "4242424242424242"
BAD_NUMBER = "4242424242424241"
CVC = "8317"
WRONG_PASSWORDS = ["Wr0ng-Horse-Battery-9431", "An0ther-Secret-7744"]
DEMO_PASSWORD = "demo-password"




@pytest.fixture
def served(tmp_path):
    """``credits-tui serve --demo`` on a loopback port; yields (base URL, log path)."""
    port = _free_port()
    log_path = tmp_path / "server.log"
    command = [sys.executable, "-m", "credits_tui.cli", "serve", "--demo", "--demo-transactions", "50",
               "--port", str(port), "--database-url", f"sqlite:///{tmp_path / 'logs.db'}", "--log-level", "debug"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until_serving(process, base, log_path)
        yield base, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_log_holds_no_secrets(served):
    base, log_path = served
    with loopback_http(base_url=base, timeout=10) as http:
        response = http.post("/auth/tokens", json={"email": "admin@demo.example", "password": DEMO_PASSWORD})
        assert response.status_code == 201, response.text
        token = response.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}

        for path in ("/me", "/account/status", "/credits/transactions?limit=5", "/credits/transactions.csv",
                     "/billing/card"):
            assert http.get(path, headers=auth).status_code == 200, path

        card = {"cardholder_name": "Ada Admin", "number": NUMBER, "exp_month": 12,
                "exp_year": datetime.now(timezone.utc).year + 2, "cvc": CVC,
                "billing_address": {"line1": "1 Demo Way", "city": "Chicago", "postal_code": "60601",
                                    "country": "US"}}
        assert http.put("/billing/card", json=card, headers=auth).status_code == 200
        assert http.put("/billing/card", json={**card, "number": BAD_NUMBER}, headers=auth).status_code == 422
        assert http.put("/billing/card", json={**card, "cvc": CVC + "99"}, headers=auth).status_code == 422

        assert http.post("/auth/tokens", json={"email": "admin@demo.example",
                                               "password": WRONG_PASSWORDS[0]}).status_code == 401
        assert http.post("/auth/tokens", json={"email": "nobody@demo.example",
                                               "password": WRONG_PASSWORDS[1]}).status_code == 401

        # Someone pastes the token and the card number into the search box: the request line
        # is logged, but never with them in it.
        assert http.get("/credits/transactions", params={"q": token}, headers=auth).status_code == 200
        assert http.get("/credits/transactions", params={"q": NUMBER}, headers=auth).status_code == 200

        assert http.delete("/auth/tokens/current", headers=auth).status_code == 204
        assert http.get("/me", headers=auth).status_code == 401

    time.sleep(0.2)  # let the last access lines reach the file
    log = log_path.read_text(errors="replace")
    lines = log.splitlines()

    # The log did record the requests, so the absences below mean something.
    assert '"POST /api/v1/auth/tokens HTTP/1.1" 201' in log, log[-3000:]
    assert '"PUT /api/v1/billing/card HTTP/1.1" 200' in log
    assert '"DELETE /api/v1/auth/tokens/current HTTP/1.1" 204' in log
    searches = [line for line in lines if "GET /api/v1/credits/transactions?q=" in line]
    assert len(searches) == 2, "each search request is still logged, with the secret masked"

    assert token not in log
    assert token.removeprefix("ct_") not in log
    assert not TOKEN_RE.search(log), TOKEN_RE.search(log)
    for password in WRONG_PASSWORDS:
        assert password not in log
    # The demo banner names the public demo password; nothing after it does.
    assert all(line.startswith("Demo users:") for line in lines if DEMO_PASSWORD in line)
    for number in (NUMBER, BAD_NUMBER, "4242 4242 4242 4242"):
        assert number not in log
    assert not re.search(rf"(?i)cvc\W{{0,8}}{CVC}", log)
    assert f'"{CVC}' not in log and f"'{CVC}" not in log
    # And the redaction did not break the logging itself.
    assert "Logging error" not in log
    assert "Traceback" not in log
