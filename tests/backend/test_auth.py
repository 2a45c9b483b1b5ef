"""Sign-in, bearer tokens, revocation, expiry and the failed-login limit (DESIGN.md §3)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from argon2 import PasswordHasher
from sqlalchemy import select

from credits_tui.backend.db.schema import ApiToken, User

PASSWORD = "demo-password"


def sign_in(client, email: str, password: str = PASSWORD):
    return client.post("/api/v1/auth/tokens", json={"email": email, "password": password})


def me(client, token: str | bytes):
    authorization = b"Bearer " + token if isinstance(token, bytes) else f"Bearer {token}"
    return client.get("/api/v1/me", headers={"Authorization": authorization})


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["field"] == field, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"].strip(), body
    return body["error"]


@pytest.fixture
def client(module_api):
    return module_api.client


# --- signing in ---------------------------------------------------------------------------


def test_sign_in_returns_a_bearer_token_and_the_user(client):
    before = datetime.now(timezone.utc)
    response = sign_in(client, "admin@demo.example")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= {"token", "token_type", "expires_at", "user"}
    token = body["token"]
    assert isinstance(token, str) and len(token) >= 32
    assert re.fullmatch(r"[A-Za-z0-9_\-]+", token), "a token is opaque URL-safe text, no spaces"
    assert body["token_type"] == "bearer"
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert expires_at.tzinfo is not None, "timestamps are UTC with a zone"
    assert before + timedelta(hours=1) < expires_at < before + timedelta(days=366)
    user = body["user"]
    assert user["email"] == "admin@demo.example"
    assert user["role"] == "admin"
    assert user["name"] == "Ada Admin"
    assert isinstance(user["id"], int)
    assert user["account"]["name"] == "Demo Co." and isinstance(user["account"]["id"], int)
    # The token works, and /me says the same as the sign-in.
    response = me(client, token)
    assert response.status_code == 200, response.text
    assert response.json() == user


def test_every_sign_in_gets_its_own_token(client):
    first = sign_in(client, "admin@demo.example").json()["token"]
    second = sign_in(client, "admin@demo.example").json()["token"]
    assert first != second
    assert me(client, first).status_code == 200
    assert me(client, second).status_code == 200


@pytest.mark.parametrize("email", ["ADMIN@Demo.Example", "  admin@DEMO.example  "])
def test_email_is_case_insensitive(client, email):
    response = sign_in(client, email)
    assert response.status_code == 201, response.text
    assert response.json()["user"]["email"] == "admin@demo.example"


def test_wrong_password_and_unknown_email_look_the_same(api):
    wrong_password = sign_in(api.client, "admin@demo.example", "not-the-password")
    unknown_email = sign_in(api.client, "nobody@demo.example", "not-the-password")
    first = assert_error(wrong_password, 401, "invalid_credentials")
    second = assert_error(unknown_email, 401, "invalid_credentials")
    assert first["message"] == second["message"], "the reply must not tell which emails exist"
    assert "token" not in wrong_password.text


# --- the failed sign-in limit ---------------------------------------------------------------


def test_failed_sign_ins_are_rate_limited_per_email_and_address(api):
    # Variants of one email count as one email (all from the test client's one address here;
    # tests/backend/test_sign_in_limits.py has the other addresses and parallel guessing).
    variants = ["support@demo.example", "SUPPORT@demo.example", "Support@Demo.Example",
                "support@demo.example ", "support@DEMO.example"]
    for email in variants:
        assert_error(sign_in(api.client, email, "wrong-password"), 401, "invalid_credentials")

    limited = sign_in(api.client, "support@demo.example", "wrong-password")
    assert_error(limited, 429, "too_many_attempts")
    retry_after = limited.headers.get("Retry-After")
    assert retry_after is not None and retry_after.isdigit(), limited.headers
    assert 0 < int(retry_after) <= 3600

    # While limited, even the right password is refused, and no token is handed out.
    right = sign_in(api.client, "support@demo.example")
    assert_error(right, 429, "too_many_attempts")
    assert "token" not in right.json()
    assert int(right.headers["Retry-After"]) > 0

    # The limit is about that address: another user still signs in.
    assert sign_in(api.client, "admin@demo.example").status_code == 201


def test_unknown_emails_are_rate_limited_too(api):
    for _ in range(5):
        assert_error(sign_in(api.client, "ghost@demo.example", "guess"), 401, "invalid_credentials")
    assert_error(sign_in(api.client, "ghost@demo.example", "guess"), 429, "too_many_attempts")


# --- revocation and expiry ----------------------------------------------------------------


def test_revoking_the_current_token(client):
    token = sign_in(client, "admin@demo.example").json()["token"]
    other = sign_in(client, "admin@demo.example").json()["token"]

    response = client.delete("/api/v1/auth/tokens/current", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 204, response.text
    assert response.content == b""

    assert_error(me(client, token), 401, "invalid_token")
    assert_error(client.get("/api/v1/account/status", headers={"Authorization": f"Bearer {token}"}),
                 401, "invalid_token")
    # Revoking twice is just another request with a dead token.
    assert_error(client.delete("/api/v1/auth/tokens/current", headers={"Authorization": f"Bearer {token}"}),
                 401, "invalid_token")
    # Only that token was revoked: the same user's other sign-in still works.
    assert me(client, other).status_code == 200


def test_a_token_works_until_its_expiry_time_and_not_after(module_api):
    client = module_api.client
    answer = sign_in(client, "support@demo.example").json()
    token, expires_at = answer["token"], datetime.fromisoformat(answer["expires_at"])
    with time_machine.travel(expires_at - timedelta(seconds=1), tick=False):
        assert me(client, token).status_code == 200
    with time_machine.travel(expires_at, tick=False):
        assert_error(me(client, token), 401, "token_expired")
    with time_machine.travel(expires_at + timedelta(days=30), tick=False):
        assert_error(me(client, token), 401, "token_expired")
        assert_error(client.get("/api/v1/credits/transactions", headers={"Authorization": f"Bearer {token}"}),
                     401, "token_expired")
        # Signing in again is how to go on: the new token has its own lifetime.
        renewed = sign_in(client, "support@demo.example").json()["token"]
        assert me(client, renewed).status_code == 200


# --- tokens of every wrong shape ------------------------------------------------------------

EITHER = {"authentication_required", "invalid_token"}
BAD_AUTHORIZATION = {
    # name: (Authorization header, acceptable error codes)
    "missing header": (None, {"authentication_required"}),
    "basic scheme": ("Basic YWRtaW5AZGVtby5leGFtcGxlOmRlbW8tcGFzc3dvcmQ=", {"authentication_required"}),
    "other scheme": ("Token abc", {"authentication_required"}),
    "bearer without token": ("Bearer", EITHER),
    "bearer and a space": ("Bearer ", EITHER),
    "random text": ("Bearer " + secrets.token_urlsafe(32), {"invalid_token"}),
    "unknown well-formed token": ("Bearer ct_" + secrets.token_urlsafe(32), {"invalid_token"}),
    "10 KB token": ("Bearer ct_" + "a" * 10_000, {"invalid_token"}),
    "token with spaces": ("Bearer ct_abc def ghi", {"invalid_token"}),
    "non-ASCII (UTF-8)": ("Bearer ct_\u00e9".encode(), {"invalid_token"}),
    "non-ASCII (Latin-1)": ("Bearer ct_\xe9\xe8".encode("latin-1"), {"invalid_token"}),
    "control character": ("Bearer ct_\x01abc", {"invalid_token"}),
}


@pytest.mark.parametrize(("authorization", "codes"), list(BAD_AUTHORIZATION.values()), ids=list(BAD_AUTHORIZATION))
@pytest.mark.parametrize("path", ["/me", "/account/status", "/credits/transactions"])
def test_tokens_of_every_wrong_shape_get_401(client, authorization, codes, path):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get(f"/api/v1{path}", headers=headers)
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] in codes, error
    assert error["field"] is None
    assert error["message"].strip()
    assert response.headers.get("WWW-Authenticate", "").lower().startswith("bearer")


def test_a_token_with_one_character_changed_is_refused(client):
    token = sign_in(client, "admin@demo.example").json()["token"]
    last = token[-1]
    tampered = token[:-1] + ("A" if last != "A" else "B")
    assert_error(me(client, tampered), 401, "invalid_token")
    assert_error(me(client, token.swapcase()), 401, "invalid_token")


# --- what is stored -------------------------------------------------------------------------


def test_tokens_are_stored_only_as_a_hash(module_api):
    with module_api.database.read() as session:
        before = session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc()).limit(1)) or 0
    token = sign_in(module_api.client, "admin@demo.example").json()["token"]
    secret_part = token.removeprefix("ct_")
    with module_api.database.read() as session:
        rows = session.scalars(select(ApiToken)).all()
    assert any(row.id > before for row in rows), "the sign-in stored a token row"
    for row in rows:
        for column in ApiToken.__table__.columns:
            value = str(getattr(row, column.key))
            assert token not in value and secret_part not in value, column.key


def test_passwords_are_stored_as_argon2_hashes(module_api):
    with module_api.database.read() as session:
        hashes = session.scalars(select(User.password_hash)).all()
    assert hashes
    for password_hash in hashes:
        assert password_hash.startswith("$argon2id$"), password_hash[:12]
        assert PASSWORD not in password_hash
    hasher = PasswordHasher()
    for password_hash in set(hashes):  # the demo users share one password (and one hash)
        assert hasher.verify(password_hash, PASSWORD)
