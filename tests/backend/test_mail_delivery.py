"""The outbox delivered by email to a real SMTP server (aiosmtpd on a loopback port): every
pending notification arrives once, even with two senders at work; with the server down they
stay pending and go out when it is back; a backend killed with -9 in the middle of a send
delivers it after the restart, once."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from credits_tui.api_client.models import NotificationKind
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import lock_account
from credits_tui.backend.db.schema import Notification
from credits_tui.backend.demo import DEMO_PASSWORD
from credits_tui.backend.services import notifications
from credits_tui.backend.services.mail_sender import MailSender, SmtpServer
from credits_tui.embedded import free_port
from tests.support import loopback_http
from tests.support.processes import served, with_kill
from tests.support.shop import ADMIN, Shop, make_shop


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts; with ``hold`` set it stalls at MAIL FROM,
    as a slow server would, so a test can kill the sender mid-send."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.hold = threading.Event()
        self.held = threading.Event()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.hold.is_set():
            self.held.set()
            while self.hold.is_set():
                await asyncio.sleep(0.05)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return sorted(m["Subject"] for m in self.messages)


class SmtpDaemon:
    def __init__(self, port: int) -> None:
        self.port = port
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    daemon = SmtpDaemon(free_port())
    yield daemon
    daemon.stop()


@pytest.fixture
def shop(database, demo_password_hash) -> Shop:
    return make_shop(database, demo_password_hash, balance_cents=60_00)


def write_receipts(shop: Shop, count: int) -> list[str]:
    """``count`` notifications written as their events would write them (one unit of work each)."""
    subjects = []
    for i in range(count):
        with shop.database.write() as session:
            account = lock_account(session, shop.account_id)
            row_id = notifications.notify(session, account, NotificationKind.purchase_receipt, f"Receipt {i}",
                                          f"Body {i}")
            subjects.append(session.get_one(Notification, row_id).subject)
    return sorted(subjects)


def pending(shop: Shop) -> list[Notification]:
    with shop.database.read() as session:
        return list(session.scalars(select(Notification).where(Notification.delivered_at.is_(None))))


def sender(shop: Shop, port: int, **knobs) -> MailSender:
    return MailSender(shop.database, Settings(database_url=shop.database.url, smtp_url=f"smtp://127.0.0.1:{port}",
                                              **knobs))


def test_every_pending_notification_arrives_once_even_with_two_senders(shop, smtp):
    subjects = write_receipts(shop, 6)
    smtp.start()

    async def two_senders() -> list[int]:
        return list(await asyncio.gather(sender(shop, smtp.port).round(), sender(shop, smtp.port).round()))

    assert sum(asyncio.run(two_senders())) == 6
    assert smtp.mailbox.subjects() == subjects
    assert {m["To"] for m in smtp.mailbox.messages} == {ADMIN}
    assert pending(shop) == []
    assert asyncio.run(sender(shop, smtp.port).round()) == 0  # delivered ones are not sent again
    assert len(smtp.mailbox.messages) == 6


def test_with_the_server_down_they_stay_pending_and_go_out_when_it_is_back(shop, smtp):
    subjects = write_receipts(shop, 3)
    mail = sender(shop, smtp.port, notify_max_backoff=timedelta(0))
    assert asyncio.run(mail.round()) == 0  # nobody listens on the port
    left = pending(shop)
    assert len(left) == 3 and all(row.attempts == 1 and row.last_error for row in left)
    smtp.start()
    assert asyncio.run(mail.round()) == 3
    assert smtp.mailbox.subjects() == subjects
    assert pending(shop) == []


def test_backoff_waits_before_the_next_try(shop, smtp):
    write_receipts(shop, 1)
    mail = sender(shop, smtp.port)  # backoff starts at 5 seconds
    assert asyncio.run(mail.round()) == 0
    smtp.start()
    assert asyncio.run(mail.round()) == 0  # not due yet
    assert smtp.mailbox.messages == []


def test_smtp_urls():
    assert SmtpServer.from_url("smtp://mail.example:2525") == SmtpServer("mail.example", 2525, False, None, None)
    assert SmtpServer.from_url("smtps://u%40x:p%2Fw@mail.example") == SmtpServer("mail.example", 465, True,
                                                                                    "u@x", "p/w")
    with pytest.raises(ValueError):
        SmtpServer.from_url("http://mail.example")


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.slow
def test_killed_mid_send_then_restarted_delivers_once(shop, smtp, database_kind, tmp_path, monkeypatch):
    workers = 2 if database_kind == "postgresql" else 1
    monkeypatch.setenv("CREDITS_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    monkeypatch.setenv("CREDITS_NOTIFY_POLL", "PT0.2S")
    monkeypatch.setenv("CREDITS_NOTIFY_LEASE", "PT3S")
    smtp.mailbox.hold.set()
    smtp.start()
    log = tmp_path / "serve.log"
    with served(shop.database, log, workers) as (base, process):
        with loopback_http(timeout=30) as http:
            token = http.post(f"{base}/auth/tokens", json={"email": ADMIN, "password": DEMO_PASSWORD}).json()["token"]
            bought = http.post(f"{base}/credits/purchases", json={"amount": "12.00"},
                               headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "kill-mid-send"})
        assert bought.status_code == 201, bought.text
        assert smtp.mailbox.held.wait(60), log.read_text(errors="replace")  # the sender is mid-send
        with_kill(process)
    [row] = pending(shop)
    assert row.claimed_until is not None  # claimed by the dead worker, not delivered
    smtp.mailbox.hold.clear()
    with served(shop.database, log, workers):
        wait_for(lambda: len(smtp.mailbox.messages) == 1, 60, "the notification was not delivered after restart")
        time.sleep(4)  # longer than a lease: a second send would have happened by now
    assert [m["Subject"] for m in smtp.mailbox.messages] == ["Recharge Co.: Receipt: purchase of 12.00 credits"]
    assert "charged 12.00 USD to the card ending 4242" in smtp.mailbox.messages[0].get_payload()
    assert pending(shop) == []
