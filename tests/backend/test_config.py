"""The backend's settings come from CREDITS_* environment variables; keywords win over them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pydantic
import pytest

from credits_tui.backend.config import Settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "MAX_PURCHASE", "ACCOUNTING_EMAIL", "TOKEN_TTL"):
        monkeypatch.delenv(f"CREDITS_{name}", raising=False)


def test_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("CREDITS_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("CREDITS_MAX_PURCHASE", "2500.50")
    monkeypatch.setenv("CREDITS_ACCOUNTING_EMAIL", "books@example.test")
    monkeypatch.setenv("CREDITS_TOKEN_TTL", "PT1H")  # durations are ISO 8601
    settings = Settings.from_env()
    assert settings.database_url == "sqlite:///elsewhere.db"
    assert settings.max_purchase == Decimal("2500.50")
    assert settings.accounting_email == "books@example.test"
    assert settings.token_ttl == timedelta(hours=1)


def test_a_given_value_wins_over_the_environment_and_none_leaves_it(monkeypatch):
    monkeypatch.setenv("CREDITS_DATABASE_URL", "sqlite:///from-env.db")
    assert Settings.from_env(database_url="sqlite:///given.db").database_url == "sqlite:///given.db"
    assert Settings.from_env(database_url=None).database_url == "sqlite:///from-env.db"
    assert Settings(database_url="sqlite:///given.db").database_url == "sqlite:///given.db"


def test_defaults_without_the_environment():
    settings = Settings(database_url="sqlite:///x.db")
    assert settings.max_purchase == Decimal("10000.00")
    assert settings.accounting_email == "accounting@leadliaison.com"
    assert settings.price_of("postcard") is not None


@pytest.mark.parametrize("value", ["lots", "12.345", "1e3"])
def test_a_bad_value_in_the_environment_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("CREDITS_MAX_PURCHASE", value)
    with pytest.raises(pydantic.ValidationError) as refused:
        Settings.from_env(database_url="sqlite:///x.db")
    assert refused.value.errors()[0]["loc"] == ("max_purchase",)


def test_an_unknown_setting_is_refused():
    with pytest.raises(pydantic.ValidationError):
        Settings(database_url="sqlite:///x.db", max_purchases="5")  # type: ignore[call-arg]
