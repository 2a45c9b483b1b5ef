"""Who is signed in, and the client that speaks for them: what the app hands every section screen.

The app owns one ``Session`` and updates it in place when the sign-in changes; the screens it
built read it (they never look anything up on the app). Not to be confused with
``credits_tui.auth.session``, which remembers profiles on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import Me, Role


@dataclass
class Session:
    client: CreditsClient
    me: Me | None = None
    # Answers asked for before the screen that wants them is built (``ask_ahead``), by section.
    ahead: dict[str, asyncio.Future[Any]] = field(default_factory=dict)

    def ask_ahead(self, key: str, answer: Awaitable[Any]) -> None:
        """Start asking now, for a screen about to be built (``take_ahead`` is how it gets the
        answer): its requests travel while the screen composes. Must run on the event loop."""
        future = asyncio.ensure_future(answer)
        # An answer nobody took (the screen was never built) leaves no "never retrieved" error.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self.ahead[key] = future

    def take_ahead(self, key: str) -> asyncio.Future[Any] | None:
        """The answer asked for ahead under ``key``, once; None when nothing was."""
        return self.ahead.pop(key, None)

    @property
    def is_admin(self) -> bool:
        """May change billing and buy credits (support staff see the same, read-only)."""
        return self.me is not None and self.me.role == Role.admin

    @property
    def who(self) -> tuple[int, Role] | None:
        """The user and role a screen was built for (another sign-in gets a fresh one)."""
        return (self.me.id, self.me.role) if self.me is not None else None


__all__ = ["Session"]
