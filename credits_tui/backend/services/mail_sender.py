"""The background sender: delivers the notification outbox by email over SMTP.

It runs as an asyncio task in every worker's lifespan. Each round it writes the
card-expiring notices that are due (``notifications.card_expiring_check``), then, when an
SMTP server is configured, takes the pending notifications one by one:

- a row is *claimed* with one conditional UPDATE (``claimed_until`` moved forward only if
  nobody holds it), atomic on SQLite and PostgreSQL alike, so one worker sends it;
- the message is sent with aiosmtplib; success marks it delivered, failure releases the
  claim and sets the next try with exponential backoff;
- a worker killed mid-send leaves a claim that runs out (``notify_lease``), and the row is
  sent again by whichever worker sees it next. Pending rows are simply rows without
  ``delivered_at``: a restart picks them up, nothing lives only in memory.

Database work is synchronous (SQLAlchemy) and runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import CursorResult, or_, select, update

from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import Notification
from credits_tui.backend.services.ledger import utc_now
from credits_tui.backend.services.notifications import card_expiring_check

_log = logging.getLogger(__name__)
BATCH = 50
BACKOFF_START = timedelta(seconds=5)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    use_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """``smtp://[user:password@]host[:port]`` (STARTTLS when offered) or ``smtps://`` (TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("the SMTP URL looks like smtp://host:port or smtps://user:password@host:port")
        use_tls = parts.scheme == "smtps"
        return cls(host=parts.hostname, port=parts.port or (465 if use_tls else 25), use_tls=use_tls,
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None)


def backoff(attempts: int, ceiling: timedelta) -> timedelta:
    doubling: int = 2 ** max(attempts - 1, 0)
    return min(BACKOFF_START * doubling, ceiling)


class MailSender:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.db = database
        self.settings = settings
        self.server = SmtpServer.from_url(settings.smtp_url) if settings.smtp_url else None
        self._next_expiry_check = datetime.min.replace(tzinfo=utc_now().tzinfo)

    async def run(self) -> None:
        """Rounds until cancelled; a failing round is logged and the next one tries again."""
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("the notification sender's round failed")
            await asyncio.sleep(self.settings.notify_poll.total_seconds())

    async def round(self) -> int:
        """One round: due card-expiry notices, then every pending notification that is due.
        Returns how many were delivered."""
        now = utc_now()
        if now >= self._next_expiry_check:
            await asyncio.to_thread(card_expiring_check, self.db, now)
            self._next_expiry_check = now + self.settings.card_expiry_check_every
        if self.server is None:
            return 0  # without SMTP the outbox is the record
        delivered = 0
        for notification_id in await asyncio.to_thread(self._due_ids):
            claimed = await asyncio.to_thread(self._claim, notification_id)
            if claimed is not None and await self._deliver(claimed):
                delivered += 1
        return delivered

    def _due_ids(self) -> list[int]:
        now = utc_now()
        with self.db.read() as session:
            return list(session.scalars(
                select(Notification.id)
                .where(Notification.delivered_at.is_(None),
                       or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
                       or_(Notification.claimed_until.is_(None), Notification.claimed_until < now))
                .order_by(Notification.id).limit(BATCH)))

    def _claim(self, notification_id: int) -> Notification | None:
        """The row, if this worker won it; None when another holds it or it was delivered."""
        now = utc_now()
        with self.db.write() as session:
            # An UPDATE's result is a CursorResult (which has the rowcount); Session.execute is typed
            # with the Result of any statement.
            won = cast(CursorResult[Any], session.execute(
                update(Notification)
                .where(Notification.id == notification_id, Notification.delivered_at.is_(None),
                       or_(Notification.claimed_until.is_(None), Notification.claimed_until < now))
                .values(claimed_until=now + self.settings.notify_lease)
                .execution_options(synchronize_session=False)
            )).rowcount == 1
            return session.get(Notification, notification_id) if won else None

    async def _deliver(self, row: Notification) -> bool:
        recipients = json.loads(row.recipients)
        error = None
        if recipients:
            try:
                await self._send(row, recipients)
            except (aiosmtplib.SMTPException, OSError) as failure:
                error = f"{type(failure).__name__}: {failure}"[:300]
        await asyncio.to_thread(self._settle, row.id, row.attempts + 1, error)
        if error:
            _log.warning("notification %s not delivered yet (try %s): %s", row.id, row.attempts + 1, error)
        return error is None

    async def _send(self, row: Notification, recipients: list[str]) -> None:
        assert self.server is not None
        message = EmailMessage()
        message["From"] = self.settings.smtp_sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = row.subject
        message["Message-ID"] = f"<notification-{row.id}@credits-tui>"  # lets a mailbox drop a resend
        message.set_content(row.body)
        await aiosmtplib.send(message, hostname=self.server.host, port=self.server.port, use_tls=self.server.use_tls,
                              username=self.server.username, password=self.server.password,
                              timeout=self.settings.smtp_timeout.total_seconds())

    def _settle(self, notification_id: int, attempts: int, error: str | None) -> None:
        now = utc_now()
        values: dict[str, object] = dict(claimed_until=None, attempts=attempts, last_error=error)
        if error is None:
            values["delivered_at"] = now
        else:
            values["next_attempt_at"] = now + backoff(attempts, self.settings.notify_max_backoff)
        with self.db.write() as session:
            session.execute(update(Notification).where(Notification.id == notification_id).values(**values)
                            .execution_options(synchronize_session=False))


@contextlib.asynccontextmanager
async def sending(database: Database, settings: Settings) -> AsyncIterator[None]:
    """Runs the sender while the block runs (the app's lifespan: every worker runs one)."""
    task = asyncio.create_task(MailSender(database, settings).run(), name="notification-sender")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
