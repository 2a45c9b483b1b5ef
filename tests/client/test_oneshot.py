"""The quick commands' blocking client answers as the async client does: the same retries on no
answer or a busy server, the same error types."""

from __future__ import annotations

import httpx
import pytest

from credits_tui.api_client import errors
from credits_tui.api_client.models import Me
from credits_tui.cli.oneshot import OneShotClient

ME = {"id": 7, "name": "Ada", "email": "ada@demo.example", "role": "admin", "account": {"id": 1, "name": "Demo Co."}}


def serving(*answers: httpx.Response | Exception) -> tuple[OneShotClient, list[httpx.Request]]:
    """A client whose requests get ``answers`` in order (an exception is raised as the transport's)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[len(seen) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return OneShotClient("http://credits.test", "secret", backoff=0, transport=httpx.MockTransport(handle)), seen


def test_a_busy_server_is_asked_again_and_its_answer_read():
    client, seen = serving(httpx.Response(503), httpx.Response(502), httpx.Response(200, json=ME))
    with client:
        me = client.get("/me", Me)
    assert me.email == "ada@demo.example" and len(seen) == 3
    assert seen[0].headers["Authorization"] == "Bearer secret"
    assert str(seen[0].url) == "http://credits.test/api/v1/me"


def test_no_answer_after_every_attempt_is_a_network_error():
    refused = httpx.ConnectError("Connection refused")
    client, seen = serving(refused, refused, refused)
    with client, pytest.raises(errors.NetworkError, match=r"Cannot reach the server at http://credits\.test"):
        client.get("/me", Me)
    assert len(seen) == 3


def test_still_busy_after_every_attempt_is_the_servers_error():
    client, seen = serving(*[httpx.Response(503)] * 3)
    with client, pytest.raises(errors.ServerError):
        client.get("/me", Me)
    assert len(seen) == 3


def test_a_refused_token_is_not_asked_again():
    refused = httpx.Response(401, json={"error": {"code": "token_expired", "message": "Your sign-in has expired."}})
    client, seen = serving(refused)
    with client, pytest.raises(errors.AuthenticationError) as caught:
        client.get("/me", Me)
    assert caught.value.code == "token_expired" and len(seen) == 1
