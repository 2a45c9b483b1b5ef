"""Placeholder while the screen is built (replaced in this change)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import Static

from credits_tui.screens.base import CreditsScreen


class ManageScreen(CreditsScreen):
    def compose_body(self) -> Iterable[Widget]:
        yield Static("manage")
