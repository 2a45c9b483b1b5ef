"""What screens and widgets tell the app: every message that goes up is defined here."""

from __future__ import annotations

from textual.message import Message


class SessionExpired(Message):
    """The server refused the sign-in (401): the app forgets the token and asks to sign in again."""


__all__ = ["SessionExpired"]
