"""Sign-in, bearer tokens and the login rate limit.

Tokens are random, opaque, shown once and stored only as their SHA-256; passwords are
stored with Argon2id. Failed sign-ins are rows in the database so that the limit holds
across worker processes.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update

from credits_tui.api_client.models import AccountRef, Me, Role, TokenResponse
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import Account, ApiToken, LoginFailure, User
from credits_tui.backend.errors import TooManyRequests, Unauthorized
from credits_tui.backend.services.ledger import utc_now

TOKEN_PREFIX = "ct_"
TOKEN_PATTERN = re.compile(r"^ct_[A-Za-z0-9_-]{43}$")

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the signed-in user behind a valid token."""

    user_id: int
    account_id: int
    role: Role
    email: str
    name: str
    token_id: int


def me(user: User, account: Account) -> Me:
    return Me(id=user.id, name=user.name, email=user.email, role=Role(user.role),
              account=AccountRef(id=account.id, name=account.name))


class AuthService:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.db = database
        self.settings = settings

    def sign_in(self, email: str, password: str, client: str) -> TokenResponse:
        email = normalise_email(email)
        now = utc_now()
        self._refuse_if_rate_limited(email, client, now)
        with self.db.read() as session:
            row = session.execute(
                select(User, Account).join(Account, Account.id == User.account_id).where(User.email == email)
            ).first()
        if not _password_matches(row[0].password_hash if row else _DUMMY_HASH, password) or row is None:
            with self.db.write() as session:
                session.add(LoginFailure(email=email, client=client[:64], created_at=now))
            raise Unauthorized("invalid_credentials", "The email or password is not right.")
        user, account = row
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = now + self.settings.token_ttl
        with self.db.write() as session:
            session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), created_at=now,
                                 expires_at=expires_at))
            # A good sign-in clears the email's failures, and old rows are pruned as we go.
            session.execute(delete(LoginFailure).where(
                (LoginFailure.email == email) | (LoginFailure.created_at < now - self.settings.login_window)
            ))
        return TokenResponse(token=token, expires_at=expires_at, user=me(user, account))

    def _refuse_if_rate_limited(self, email: str, client: str, now: datetime) -> None:
        window_start = now - self.settings.login_window
        with self.db.read() as session:
            by_email = session.scalar(select(func.count()).where(
                LoginFailure.email == email, LoginFailure.created_at >= window_start))
            by_client = session.scalar(select(func.count()).where(
                LoginFailure.client == client, LoginFailure.created_at >= window_start))
            oldest = session.scalar(select(func.min(LoginFailure.created_at)).where(
                (LoginFailure.email == email) | (LoginFailure.client == client),
                LoginFailure.created_at >= window_start))
        if (by_email or 0) >= self.settings.login_failures_per_email or (
            by_client or 0
        ) >= self.settings.login_failures_per_client:
            retry_after = self.settings.login_window - (now - oldest) if oldest else self.settings.login_window
            seconds = max(1, math.ceil(retry_after.total_seconds()))
            raise TooManyRequests(
                "too_many_attempts",
                f"Too many failed sign-ins. Try again in {math.ceil(seconds / 60)} minute(s).",
                headers={"Retry-After": str(seconds)},
            )

    def authenticate(self, token: str) -> Principal:
        if not TOKEN_PATTERN.match(token):
            raise Unauthorized("invalid_token", "This sign-in is not valid. Sign in again.")
        now = utc_now()
        with self.db.read() as session:
            row = session.execute(
                select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == token_digest(token))
            ).first()
        if row is None or row[0].revoked_at is not None:
            raise Unauthorized("invalid_token", "This sign-in is not valid. Sign in again.")
        api_token, user = row
        if api_token.expires_at <= now:
            raise Unauthorized("token_expired", "Your sign-in has expired. Sign in again.")
        return Principal(user_id=user.id, account_id=user.account_id, role=Role(user.role),
                         email=user.email, name=user.name, token_id=api_token.id)

    def revoke(self, principal: Principal) -> None:
        with self.db.write() as session:
            session.execute(update(ApiToken).where(ApiToken.id == principal.token_id)
                            .values(revoked_at=utc_now()))

    def me(self, principal: Principal) -> Me:
        with self.db.read() as session:
            user = session.get_one(User, principal.user_id)
            account = session.get_one(Account, principal.account_id)
            return me(user, account)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
