"""A first look at the server: the admin's status, and a fresh server's first request."""

import gc
import subprocess
import sys
import weakref

from credits_tui.backend.api.app import app_from_env


def test_admin_sees_status(admin):
    response = admin.get("/account/status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["account"]["name"] == "Demo Co."
    assert body["card_on_file"]["last4"] == "4242"


# A fresh process: FastAPI builds a request body's parser once per process, at its first request.
_FIRST_REQUESTS = """
import sys
from fastapi.testclient import TestClient
from credits_tui.backend.api.app import create_app
from credits_tui.backend.config import Settings
with TestClient(create_app(Settings(database_url=sys.argv[1]))) as client:
    answer = client.post("/api/v1/auth/tokens", json={"email": "nobody@demo.example", "password": "wrong"})
    assert answer.status_code == 401, answer.text
"""


def test_a_fresh_server_answers_its_first_request_with_a_body_without_warnings(tmp_path):
    """No warning of pydantic's reaches the terminal of someone running ``serve`` or ``demo``."""
    result = subprocess.run(
        [sys.executable, "-W", "error::pydantic.warnings.UnsupportedFieldAttributeWarning", "-c", _FIRST_REQUESTS,
         f"sqlite:///{tmp_path / 'fresh.db'}"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "UnsupportedFieldAttributeWarning" not in result.stderr


class _Leftover:
    """Garbage a start-up leaves: an object in a reference cycle, freed only by a collection."""

    def __init__(self) -> None:
        self.itself = self


def test_a_server_worker_keeps_what_its_start_made_out_of_full_collections(tmp_path, monkeypatch):
    """A full collection over a worker's modules and routes (73-111 ms) no longer lands in a
    request; the garbage of its start (a demo's seeding, with one worker) is freed, not kept."""
    monkeypatch.setenv("CREDITS_DATABASE_URL", f"sqlite:///{tmp_path / 'worker.db'}")
    gc.unfreeze()  # the test run froze what its collection made (tests/conftest.py)
    gc.disable()  # only the worker's own collection may free the leftover
    try:
        leftover = weakref.ref(_Leftover())
        app = app_from_env()
        assert gc.get_freeze_count() > 10_000
        assert leftover() is None
    finally:
        gc.enable()
        gc.freeze()
    app.state.database.dispose()
