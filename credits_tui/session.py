"""Who is signed in, and the client that speaks for them: what the app hands every section screen.

The app owns one ``Session`` and updates it in place when the sign-in changes; the screens it
built read it (they never look anything up on the app). Not to be confused with
``credits_tui.auth.session``, which remembers profiles on disk.
"""

from __future__ import annotations

from dataclasses import dataclass

from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import Me, Role


@dataclass
class Session:
    client: CreditsClient
    me: Me | None = None

    @property
    def is_admin(self) -> bool:
        """May change billing and buy credits (support staff see the same, read-only)."""
        return self.me is not None and self.me.role == Role.admin

    @property
    def who(self) -> tuple[int, Role] | None:
        """The user and role a screen was built for (another sign-in gets a fresh one)."""
        return (self.me.id, self.me.role) if self.me is not None else None


__all__ = ["Session"]
