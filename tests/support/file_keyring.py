"""A keyring backend for tests that keeps its entries in a JSON file.

Point a subprocess at it with ``PYTHON_KEYRING_BACKEND=tests.support.file_keyring.FileKeyring``
and ``CREDITS_TEST_KEYRING_FILE=/some/tmp/dir/keyring.json`` when no real Secret Service is
usable. The file stands in for the OS keyring, so tests keep it outside the app's config and
data directories (where a token must never land).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

FILE_ENV = "CREDITS_TEST_KEYRING_FILE"


def read_entries(path: Path) -> dict[str, dict[str, str]]:
    """``{service: {username: password}}`` as stored in ``path`` (empty if there is no file)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]  # usable, but never preferred over a real keyring

    @property
    def path(self) -> Path:
        name = os.environ.get(FILE_ENV)
        if not name:
            raise KeyringError(f"{FILE_ENV} is not set")
        return Path(name)

    def _write(self, entries: dict[str, dict[str, str]]) -> None:
        path = self.path
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(entries), encoding="utf-8")
        temporary.replace(path)

    def get_password(self, service: str, username: str) -> str | None:
        return read_entries(self.path).get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = read_entries(self.path)
        entries.setdefault(service, {})[username] = password
        self._write(entries)

    def delete_password(self, service: str, username: str) -> None:
        entries = read_entries(self.path)
        if username not in entries.get(service, {}):
            raise PasswordDeleteError("no such entry")
        del entries[service][username]
        self._write(entries)


# Defining a backend registers it for keyring's automatic choice; this one is only ever used
# when named explicitly (PYTHON_KEYRING_BACKEND), so take it out of that choice.
KeyringBackend._classes.discard(FileKeyring)  # type: ignore[attr-defined]
