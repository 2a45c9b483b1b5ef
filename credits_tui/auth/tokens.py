"""Bearer tokens in the OS keyring (service ``credits-tui``, one entry per server and email).

When no keyring backend is usable the token is kept in this process's memory only, and
``notice`` says so once. A token is never written to a file or a log by this module. Keyring
calls block (D-Bus): the app runs them in a worker thread.

``keyring`` is imported when a token is first looked up in it, not with this module: a
script or CI job that passes ``CREDITS_TUI_TOKEN`` never reads the keyring (cron has no
Secret Service), and importing keyring took 18-80 ms of such a command's start.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from credits_tui.api_client import errors

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "credits-tui"
TOKEN_ENV = "CREDITS_TUI_TOKEN"
NO_KEYRING_NOTICE = ("No usable OS keyring was found, so the sign-in is kept in memory for this session "
                     "only. Install and unlock a Secret Service keyring (such as gnome-keyring) to stay "
                     "signed in.")


def entry_name(server: str, email: str) -> str:
    return f"{email.strip().lower()} @ {server}"


def keyring_usable(backend: KeyringBackend | None = None) -> bool:
    import keyring

    backend = backend or keyring.get_keyring()
    return backend.priority > 0 and type(backend).__module__ != "keyring.backends.fail"


class TokenStore:
    """Get, keep and forget tokens; falls back to memory when the keyring is unusable."""

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        self._backend = backend
        self._memory: dict[str, str] = {}
        self.notice: str | None = None

    @property
    def backend(self) -> KeyringBackend:
        import keyring

        return self._backend or keyring.get_keyring()

    def _fall_back(self) -> None:
        self.notice = NO_KEYRING_NOTICE

    def get(self, server: str, email: str) -> str | None:
        import keyring.errors

        name = entry_name(server, email)
        if name in self._memory:
            return self._memory[name]
        if not keyring_usable(self.backend):
            return None
        try:
            return self.backend.get_password(SERVICE, name)
        except keyring.errors.KeyringError:
            self._fall_back()
            return None

    def set(self, server: str, email: str, token: str) -> bool:
        """Keep the token; True when the keyring holds it, False when only memory does."""
        import keyring.errors

        name = entry_name(server, email)
        if keyring_usable(self.backend):
            try:
                self.backend.set_password(SERVICE, name, token)
                self._memory.pop(name, None)
                return True
            except keyring.errors.KeyringError:
                pass
        self._fall_back()
        self._memory[name] = token
        return False

    def delete(self, server: str, email: str) -> None:
        import keyring.errors

        name = entry_name(server, email)
        self._memory.pop(name, None)
        if not keyring_usable(self.backend):
            return
        try:
            self.backend.delete_password(SERVICE, name)
        except keyring.errors.PasswordDeleteError:
            pass  # nothing was stored: forgetting it is done
        except keyring.errors.KeyringError:
            self._fall_back()


def token_from_environment() -> str | None:
    """``CREDITS_TUI_TOKEN``, or None when unset. A value no server issues (spaces, control or
    non-ASCII characters) is refused here: in a request header it fails with a message that
    echoes it, or not at all."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token and not (token.isascii() and token.isprintable() and " " not in token):
        raise errors.ValidationError(f"{TOKEN_ENV} does not hold a token: a token is letters, digits and "
                                     "punctuation only. Copy it again, or sign in with 'credits-tui login'.",
                                     code="invalid_token", field="token")
    return token or None
