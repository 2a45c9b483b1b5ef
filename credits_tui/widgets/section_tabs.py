"""Where am I: one line naming every section, the current one marked; a click switches."""

from __future__ import annotations

from textual import on
from textual.message import Message
from textual.widgets import Tab, Tabs

from credits_tui.sections import SECTIONS, section_for


def tab_id(mode: str) -> str:
    return f"section-{mode}"


class SectionTabs(Tabs, can_focus=False):
    """The section tabs (``1 Status  2 Billing …``); keys switch sections, so no focus here."""

    DEFAULT_CSS = """
    SectionTabs {
        height: 1;
        & #tabs-list { min-height: 1; }
        & Underline { display: none; }
        & Tab { height: 1; padding: 0 1; color: $text-muted; }
        & Tab.-active { color: $text; background: $primary 40%; text-style: bold; }
        & Tab:hover { color: $text; }
    }
    """

    class Chosen(Message):
        """The person clicked the tab of ``mode``."""

        def __init__(self, mode: str) -> None:
            super().__init__()
            self.mode = mode

    def __init__(self, current: str) -> None:
        super().__init__(*(Tab(f"{section.number} {section.title}", id=tab_id(section.mode))
                           for section in SECTIONS))
        self._current = current

    def on_mount(self) -> None:
        self.mark(self._current)  # before Tabs' own mount, which would mark the first tab

    def mark(self, mode: str) -> None:
        """Mark ``mode`` as the current section (a screen outside the sections marks none)."""
        if section_for(mode) is not None and self.query(f"#{tab_id(mode)}"):
            self.active = tab_id(mode)

    @on(Tab.Clicked)
    def _clicked(self, event: Tab.Clicked) -> None:
        # Only a click asks to switch; Tabs' own activation (also when marking) is just the look.
        self.post_message(self.Chosen(str(event.tab.id).removeprefix(tab_id(""))))
