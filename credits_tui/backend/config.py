"""The backend's configuration: database, limits, prices. Read from the environment (``CREDITS_*``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class Settings(BaseSettings):
    """Every setting is read from ``CREDITS_<NAME>`` (``CREDITS_MAX_PURCHASE=5000.00``) unless
    given as a keyword; a value that does not parse stops the server with pydantic's message.
    Durations are ISO 8601 in the environment (``CREDITS_TOKEN_TTL=P14D``)."""

    model_config = SettingsConfigDict(env_prefix="CREDITS_", extra="forbid", use_attribute_docstrings=True)

    database_url: str = Field(default_factory=default_database_url)
    """``sqlite:///path/to/file.db`` or ``postgresql+psycopg://user@host/db``; by default a SQLite
    file in the user data directory."""
    max_purchase: Money = Decimal("10000.00")
    """The largest single purchase, in credits."""
    accounting_email: str = "accounting@leadliaison.com"
    """Whom an admin asks to remove a card on file (named in that refusal)."""
    token_ttl: timedelta = timedelta(days=14)
    """How long a sign-in lasts."""
    login_window: timedelta = timedelta(minutes=15)
    """The window in which failed sign-ins are counted."""
    login_failures_per_email_and_client: int = 5
    """Failed sign-ins tolerated per window for one email from one client address: the tight
    limit, so a guesser at one address cannot lock the user out at another."""
    login_failures_per_email: int = 100
    """Failed sign-ins tolerated per window for one email across addresses: a ceiling on guessing
    spread over many addresses."""
    login_failures_per_client: int = 30
    """Failed sign-ins tolerated per window from one client address, across emails."""
    idempotency_stale_after: timedelta = timedelta(seconds=5)
    """The lease of a purchase in progress: a retry takes over a claim this old (its worker died).
    Taking over a live one is harmless: the gateway charge carries the same key."""
    prices: tuple[ProcessTypePrice, ...] = DEFAULT_PRICES
    """The price list (JSON in the environment)."""
    auto_recharge_lease: timedelta = timedelta(seconds=10)
    """An auto-recharge claimed by a worker that died is taken over by a debit after this long;
    the gateway key is the same, so a live but slow owner costs no second charge."""
    smtp_url: str | None = None
    """Notifications go out by email when set (``smtp://host:port``, ``smtps://user:pass@host:port``)."""
    smtp_sender: str = "Purchase Credits <credits@leadliaison.com>"
    """The From of every notification email."""
    smtp_timeout: timedelta = timedelta(seconds=10)
    """How long one SMTP conversation may take."""
    notify_lease: timedelta = timedelta(seconds=60)
    """The sender's claim on a notification; longer than a send may take (smtp_timeout), so a
    live sender never loses its claim mid-send."""
    notify_poll: timedelta = timedelta(seconds=2)
    """How often the sender looks for pending notifications."""
    notify_max_backoff: timedelta = timedelta(minutes=10)
    """The longest wait between two tries of a notification that could not be sent."""
    card_expiry_check_every: timedelta = timedelta(minutes=10)
    """How often the sender looks for cards about to expire."""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """The environment's settings; an override that is None (an option not given) leaves it be."""
        return cls.model_validate({name: value for name, value in overrides.items() if value is not None})

    def price_of(self, process_type: str) -> ProcessTypePrice | None:
        return next((p for p in self.prices if p.process_type == process_type), None)
