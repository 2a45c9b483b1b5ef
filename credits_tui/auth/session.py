"""Which server and token a command or the app uses, from options, environment and profile."""

from __future__ import annotations

import os
from dataclasses import dataclass

from credits_tui.api_client.transport import normalise_server
from credits_tui.auth.profiles import DEFAULT_PROFILE, Config, Profile, load_config, save_config
from credits_tui.auth.tokens import TokenStore, token_from_environment

SERVER_ENV = "CREDITS_TUI_SERVER"


class NotSignedIn(Exception):
    """There is no server or token to use; the message says how to sign in."""


@dataclass
class Credentials:
    server: str
    email: str | None
    token: str
    from_environment: bool


def resolve_server(server: str | None, profile: Profile | None) -> str | None:
    return server or os.environ.get(SERVER_ENV) or (profile.server if profile else None)


def credentials(store: TokenStore, *, server: str | None = None, profile_name: str = DEFAULT_PROFILE,
                config: Config | None = None) -> Credentials:
    """Server and token: ``CREDITS_TUI_TOKEN`` first, else the profile's token in the keyring."""
    token = token_from_environment()
    if token and config is None and (explicit := server or os.environ.get(SERVER_ENV)):
        # Token and server both given (a script, CI): the config file has nothing to add, so it
        # is not read (nor parsed: a quick command's start-up), and a broken one stops nothing.
        return Credentials(normalise_server(explicit), None, token, True)
    config = config or load_config()
    profile = config.profiles.get(profile_name)
    resolved = resolve_server(server, profile)
    if not resolved:
        raise NotSignedIn("No server is set: run 'credits-tui login --server URL --email EMAIL' "
                          f"or set {SERVER_ENV}.")
    resolved = normalise_server(resolved)
    if token:
        return Credentials(resolved, profile.email if profile else None, token, True)
    if profile is None or profile.server != resolved:
        raise NotSignedIn(f"Not signed in to {resolved}: run 'credits-tui login --server {resolved}'.")
    token = store.get(profile.server, profile.email)
    if not token:
        raise NotSignedIn(f"Not signed in to {resolved} as {profile.email}: run 'credits-tui login'.")
    return Credentials(resolved, profile.email, token, False)


def remember(config: Config, profile_name: str, server: str, email: str) -> None:
    config.profiles[profile_name] = Profile(server=server, email=email)
    save_config(config)
