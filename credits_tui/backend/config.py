"""The backend's configuration: database, limits, prices. Read from the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import platformdirs
from pydantic import BaseModel, Field

from credits_tui.api_client.models import BillingMode, Money, ProcessTypePrice

APP_NAME = "credits-tui"


def default_database_url() -> str:
    data_dir = Path(platformdirs.user_data_dir(APP_NAME))
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'credits.db'}"


def _price(process_type: str, label: str, unit: str, billing: BillingMode, free: int = 0) -> ProcessTypePrice:
    return ProcessTypePrice(
        process_type=process_type, label=label, unit_price=Decimal(unit), billing=billing, free_quota=free
    )


DEFAULT_PRICES: tuple[ProcessTypePrice, ...] = (
    _price("handwritten_letter", "Handwritten letter", "3.50", BillingMode.prepaid),
    _price("postcard", "Postcard", "1.25", BillingMode.prepaid),
    _price("advanced_email_test", "Advanced email test", "0.50", BillingMode.prepaid),
    _price("social_media_append", "Social media append", "0.05", BillingMode.prepaid, free=1000),
    _price("smart_match", "Smart match", "0.10", BillingMode.prepaid, free=500),
    _price("premium_audio_transcription", "Premium audio transcription (minute)", "0.25", BillingMode.invoice),
    _price("business_card_transcription", "Business card transcription", "0.15", BillingMode.invoice),
    _price("zoominfo_people_search", "ZoomInfo people search lookup", "0.40", BillingMode.prepaid),
)


class Settings(BaseModel):
    database_url: str = Field(default_factory=default_database_url)
    max_purchase: Money = Decimal("10000.00")
    accounting_email: str = "accounting@leadliaison.com"
    token_ttl: timedelta = timedelta(days=14)
    # Failed sign-ins tolerated per window: per (email, client address) is the tight one, so
    # a guesser at one address cannot lock the user out at another; per email is a ceiling on
    # guessing spread over many addresses; per address bounds one guesser across emails.
    login_window: timedelta = timedelta(minutes=15)
    login_failures_per_email_and_client: int = 5
    login_failures_per_email: int = 100
    login_failures_per_client: int = 30
    # The lease of a purchase in progress: a retry takes over a claim this old (its worker
    # died). Taking over a live one is harmless: the gateway charge carries the same key.
    idempotency_stale_after: timedelta = timedelta(seconds=5)
    prices: tuple[ProcessTypePrice, ...] = DEFAULT_PRICES
    # An auto-recharge claimed by a worker that died is taken over by a debit after this long;
    # the gateway key is the same, so a live but slow owner costs no second charge.
    auto_recharge_lease: timedelta = timedelta(seconds=10)
    # Notifications go out by email when set (smtp://host:port, smtps://user:pass@host:port).
    smtp_url: str | None = None
    smtp_sender: str = "Purchase Credits <credits@leadliaison.com>"
    smtp_timeout: timedelta = timedelta(seconds=10)
    # The sender's claim on a notification; longer than a send may take (smtp_timeout), so a
    # live sender never loses its claim mid-send.
    notify_lease: timedelta = timedelta(seconds=60)
    notify_poll: timedelta = timedelta(seconds=2)
    notify_max_backoff: timedelta = timedelta(minutes=10)
    card_expiry_check_every: timedelta = timedelta(minutes=10)

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        values: dict[str, object] = {}
        if url := os.environ.get("CREDITS_DATABASE_URL"):
            values["database_url"] = url
        if maximum := os.environ.get("CREDITS_MAX_PURCHASE"):
            values["max_purchase"] = maximum
        if email := os.environ.get("CREDITS_ACCOUNTING_EMAIL"):
            values["accounting_email"] = email
        if smtp_url := os.environ.get("CREDITS_SMTP_URL"):
            values["smtp_url"] = smtp_url
        for knob in ("notify_lease", "notify_poll", "notify_max_backoff", "auto_recharge_lease"):
            if seconds := os.environ.get(f"CREDITS_{knob.upper()}_SECONDS"):
                values[knob] = timedelta(seconds=float(seconds))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    def price_of(self, process_type: str) -> ProcessTypePrice | None:
        return next((p for p in self.prices if p.process_type == process_type), None)
