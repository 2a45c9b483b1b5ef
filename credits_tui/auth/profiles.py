"""Profiles and preferences in ``config.toml`` under the user config dir. Never a token."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, Field

APP_NAME = "credits-tui"
DEFAULT_PROFILE = "default"


class Profile(BaseModel):
    # Built when first used: a command given its server and token never reads the config.
    model_config = ConfigDict(defer_build=True)

    server: str
    email: str


class Config(BaseModel):
    model_config = ConfigDict(defer_build=True)

    profiles: dict[str, Profile] = Field(default_factory=dict)
    theme: str | None = None


def config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """The saved config; an unreadable file is reported, not silently replaced."""
    path = path or config_path()
    try:
        with path.open("rb") as handle:
            return Config.model_validate(tomllib.load(handle))
    except FileNotFoundError:
        return Config()
    except (tomllib.TOMLDecodeError, ValueError) as error:
        raise ConfigError(f"The settings file {path} cannot be read ({error}). Fix or delete it.") from None


def save_config(config: Config, path: Path | None = None) -> None:
    """Write atomically (a crash never leaves half a file), readable by the user only."""
    import tomli_w  # only when writing: reading is every command's, writing only login's

    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".toml.tmp")
    with temporary.open("wb") as handle:
        tomli_w.dump(config.model_dump(exclude_none=True), handle)
    os.chmod(temporary, 0o600)
    temporary.replace(path)


class ConfigError(Exception):
    pass
