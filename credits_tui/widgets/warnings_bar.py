"""The account's warnings: one line under the header on every section, the full list on Status.

Both show ``credits_tui.warnings.current_warnings``; neither parses server text as markup.
The header line fetches what it needs itself each time its section is shown (switching
sections, coming back from a dialog), so a warning stays in sight until it is resolved and
goes once it is; Status and Billing also hand it fresh warnings when they have them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from rich.text import Text
from textual import work
from textual.screen import Screen
from textual.widgets import Static

from credits_tui.api_client import errors
from credits_tui.session import Session
from credits_tui.warnings import AccountWarning, current_warnings

SIGN = "⚠ "


class WarningsBar(Static):
    """One line: the most urgent warning and what to do, and how many more Status lists."""

    DEFAULT_CSS = """
    WarningsBar {
        display: none;
        height: 1;
        padding: 0 1;
        background: $warning 20%;
        color: $text;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    WarningsBar.-visible { display: block; }
    """

    def __init__(self, session: Session, *, ask_at_mount: bool = True, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.session = session
        self._ask_at_mount = ask_at_mount  # False: the screen's first load hands the warnings in
        self.warnings: list[AccountWarning] = []
        self.answered = False  # the account was asked at least once (until then, no line is no news)

    def on_mount(self) -> None:
        self.app.screen_change_signal.subscribe(self, self._screen_changed)
        if self._ask_at_mount:
            self.refresh_warnings()

    def _screen_changed(self, screen: Screen[object]) -> None:
        if screen is self.screen:  # its section is shown again (another section, a dialog closed)
            self.refresh_warnings()

    def show(self, warnings: list[AccountWarning]) -> None:
        self.warnings = list(warnings)
        self.answered = True
        self.set_class(bool(warnings), "-visible")
        if not warnings:
            self.update("")
            return
        first = warnings[0]
        text = Text(SIGN, style="bold")
        text.append(f"{first.title}: ", style="bold")
        text.append(f"{first.action}.")
        if len(warnings) > 1:
            text.append(f"  +{len(warnings) - 1} more on Status (1)", style="italic")
        self.update(text)

    @work(exclusive=True, group="warnings-bar", exit_on_error=False)
    async def refresh_warnings(self) -> None:
        """Ask the server for the account as it is now; a failure keeps what is shown (the
        section's own request, made at the same time, says what went wrong)."""
        if self.session.me is None:
            return
        api = self.session.client
        try:
            # Side by side: one after another they were three round trips for one line.
            status, alerts, prices = await asyncio.gather(api.status(), api.notification_settings(), api.prices())
        except errors.ApiError:
            return
        labels = {price.process_type: price.label for price in prices.items}
        self.show(current_warnings(status, alerts, datetime.now(timezone.utc), labels))


class WarningsList(Static):
    """Every warning on its own lines, with what to do; nothing at all when all is well."""

    DEFAULT_CSS = """
    WarningsList {
        display: none;
        height: auto;
        margin-top: 1;
        padding: 0 1;
        background: $warning 15%;
        border-left: thick $warning;
    }
    WarningsList.-visible { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.warnings: list[AccountWarning] = []

    def show(self, warnings: list[AccountWarning]) -> None:
        self.warnings = list(warnings)
        self.set_class(bool(warnings), "-visible")
        text = Text()
        for index, warning in enumerate(warnings):
            if index:
                text.append("\n")
            text.append(SIGN + warning.detail + " ")
            text.append(f"{warning.action}.", style="bold")
        self.update(text)


__all__ = ["WarningsBar", "WarningsList"]
