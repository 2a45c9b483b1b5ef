"""Sign-in, bearer tokens and the login rate limit.

Tokens are random, opaque, shown once and stored only as their SHA-256; passwords are
stored with Argon2id. Sign-in attempts are rows in the database, taken before
the password is checked, so that the limits hold for parallel requests and across workers.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from credits_tui.api_client.models import AccountRef, AuditAction, AuditOutcome, Me, Role, TokenResponse
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import Account, ApiToken, LoginAttempt, User, table_of
from credits_tui.backend.errors import TooManyRequests, Unauthorized
from credits_tui.backend.services import audit
from credits_tui.backend.services.ledger import utc_now

TOKEN_PREFIX = "ct_"
TOKEN_PATTERN = re.compile(r"^ct_[A-Za-z0-9_-]{43}$")

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so a wrong email costs as long as a wrong
    password. Made when the first service is (not at import, which CLI and test processes pay
    too), so that even the first sign-in of a worker takes no longer for an unknown email."""
    return _hasher.hash("not-a-real-password")


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


_tokens = table_of(ApiToken)
_users = table_of(User)
# Built once, as it runs on every request: a statement made per call costs more to build and
# to key for the compiled cache than the indexed lookup costs to run.
_SIGNED_IN = (
    select(_tokens.c.id.label("token_id"), _tokens.c.revoked_at, _tokens.c.expires_at,
           _users.c.id.label("user_id"), _users.c.account_id, _users.c.role, _users.c.email, _users.c.name)
    .select_from(_tokens.join(_users, _users.c.id == _tokens.c.user_id))
    .where(_tokens.c.token_hash == bindparam("digest"))
)


def me(user: User, account: Account) -> Me:
    return Me(id=user.id, name=user.name, email=user.email, role=Role(user.role),
              account=AccountRef(id=account.id, name=account.name))


class AuthService:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.db = database
        self.settings = settings
        _dummy_hash()

    def sign_in(self, email: str, password: str, client: str) -> TokenResponse:
        email = normalise_email(email)
        client = client[:64]
        attempt_id = self._take_attempt(email, client)
        with self.db.read() as session:
            row = session.execute(
                select(User, Account).join(Account, Account.id == User.account_id).where(User.email == email)
            ).first()
        matched = _password_matches(row[0].password_hash if row else _dummy_hash(), password)
        now = utc_now()
        if not matched or row is None:
            with self.db.write() as session:
                session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(succeeded=False))
                _audit_sign_in(session, email, row[0] if row else None, client, AuditOutcome.failure)
            raise Unauthorized("invalid_credentials", "The email or password is not right.")
        user, account = row
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = now + self.settings.token_ttl
        with self.db.write() as session:
            api_token = ApiToken(user_id=user.id, token_hash=token_digest(token), created_at=now,
                                 expires_at=expires_at)
            session.add(api_token)
            session.flush()
            _audit_sign_in(session, email, user, client, AuditOutcome.success, token_id=api_token.id)
            session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(succeeded=True))
            # A good sign-in forgives this address's slips for this email (not other addresses'),
            # and rows out of every window are pruned as we go.
            session.execute(delete(LoginAttempt).where(
                ((LoginAttempt.email == email) & (LoginAttempt.client == client) & LoginAttempt.succeeded.is_(False))
                | (LoginAttempt.created_at < now - self.settings.login_window)
            ))
        return TokenResponse(token=token, expires_at=expires_at, user=me(user, account))

    def _take_attempt(self, email: str, client: str) -> int:
        """Count the window and take a slot in one write transaction, before any password check.

        Taking the slot first is what makes the limits hold under parallel requests and across
        workers: SQLite's write units of work begin IMMEDIATE (one writer at a time), and on
        PostgreSQL transaction-scoped advisory locks on the email and the address serialise the
        count-then-insert of every attempt that shares either. While limited the password is
        not checked at all, so the 429 says nothing about it.
        """
        settings = self.settings
        now = utc_now()
        # Strictly inside the window, so that waiting Retry-After seconds is always enough.
        counted = LoginAttempt.succeeded.is_not(True) & (LoginAttempt.created_at > now - settings.login_window)
        limits = (
            ((LoginAttempt.email == email) & (LoginAttempt.client == client),
             settings.login_failures_per_email_and_client),
            (LoginAttempt.email == email, settings.login_failures_per_email),
            (LoginAttempt.client == client, settings.login_failures_per_client),
        )
        with self.db.write() as session:
            if not self.db.is_sqlite:
                # In one order everywhere, so two sign-ins never wait for each other's second lock.
                for key in sorted({_lock_key("email", email), _lock_key("client", client)}):
                    session.execute(select(func.pg_advisory_xact_lock(key)))
            waits = [wait for where, allowed in limits
                     if (wait := self._limited_for(session, where & counted, allowed, now)) is not None]
            if not waits:
                attempt = LoginAttempt(email=email, client=client, created_at=now, succeeded=None)
                session.add(attempt)
                session.flush()
                return attempt.id
            # The refusal is recorded in this transaction, which then commits: raising inside
            # it would roll the audit row back with it.
            user = session.scalar(select(User).where(User.email == email))
            _audit_sign_in(session, email, user, client, AuditOutcome.refused)
        seconds = max(1, math.ceil(max(waits).total_seconds()))
        raise TooManyRequests(
            "too_many_attempts",
            f"Too many failed sign-ins. Try again in {math.ceil(seconds / 60)} minute(s).",
            headers={"Retry-After": str(seconds)},
        )

    def _limited_for(self, session: Session, counted: ColumnElement[bool], allowed: int,
                     now: datetime) -> timedelta | None:
        """How long until fewer than ``allowed`` attempts match ``counted``; None if fewer do now."""
        # While the allowed-th newest attempt is inside the window, so are ``allowed`` attempts;
        # the limit lifts when it leaves (older ones leave before it). One statement, so a row
        # pruned meanwhile by another sign-in cannot skew a count.
        lifts_with = session.scalar(select(LoginAttempt.created_at).where(counted)
                                    .order_by(LoginAttempt.created_at.desc()).offset(allowed - 1).limit(1))
        return None if lifts_with is None else lifts_with + self.settings.login_window - now

    def authenticate(self, token: str) -> Principal:
        if not TOKEN_PATTERN.match(token):
            raise Unauthorized("invalid_token", "This sign-in is not valid. Sign in again.")
        now = utc_now()
        # Every request asks, so nothing is cached: a revoked token stops working at once.
        # One indexed lookup, by a statement built once (see _SIGNED_IN).
        with self.db.lookup() as session:
            row = session.execute(_SIGNED_IN, {"digest": token_digest(token)}).first()
        if row is None or row.revoked_at is not None:
            raise Unauthorized("invalid_token", "This sign-in is not valid. Sign in again.")
        if row.expires_at <= now:
            raise Unauthorized("token_expired", "Your sign-in has expired. Sign in again.")
        return Principal(user_id=row.user_id, account_id=row.account_id, role=Role(row.role),
                         email=row.email, name=row.name, token_id=row.token_id)

    def revoke(self, principal: Principal, client: str) -> None:
        with self.db.write() as session:
            session.execute(update(ApiToken).where(ApiToken.id == principal.token_id)
                            .values(revoked_at=utc_now()))
            audit.record(session, account_id=principal.account_id, actor=principal.user_id,
                         action=AuditAction.sign_out, target=f"token:{principal.token_id}", ip=client,
                         outcome=AuditOutcome.success)

    def me(self, principal: Principal) -> Me:
        with self.db.read() as session:
            user = session.get_one(User, principal.user_id)
            account = session.get_one(Account, principal.account_id)
            return me(user, account)


def _audit_sign_in(session: Session, email: str, user: User | None, client: str, outcome: AuditOutcome, *,
                   token_id: int | None = None) -> None:
    """A sign-in's audit row. Only a success has an actor: a failure proves nobody's identity.

    A failure for a user's email belongs to that user's account; one for an email no user
    has belongs to no account, so no admin ever sees it.
    """
    detail: audit.Detail = {"email": audit.sign_in_email(email, known=user is not None)}
    if token_id is not None:
        detail["token_id"] = token_id
    audit.record(session, account_id=user.account_id if user else None,
                 actor=user.id if outcome is AuditOutcome.success and user else None,
                 action=AuditAction.sign_in, target=f"user:{user.id}" if user else None, ip=client,
                 outcome=outcome, detail=detail)


def _lock_key(kind: str, value: str) -> int:
    """A signed 64-bit key for ``pg_advisory_xact_lock``; a rare collision only serialises more."""
    return int.from_bytes(hashlib.sha256(f"sign-in:{kind}:{value}".encode()).digest()[:8], "big", signed=True)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
