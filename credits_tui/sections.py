"""The app's sections, in order: the one list the keys, the tab bar, the palette and help read.

A section's number is its place in this list: ``1``/``F1`` for the first, and so on. A new
section (Audit, ``5``/``F5``) is one more entry here, naming its screen.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    mode: str  # the app mode that shows it
    title: str
    summary: str  # what it is for, in the palette and the keys list
    # "module:Class" of its screen, imported when the section is first shown: the start pays for
    # the first section's screen only (Manage and Audit bring a chart library and more).
    screen: str

    @property
    def number(self) -> int:
        return SECTIONS.index(self) + 1

    @property
    def keys(self) -> tuple[str, str]:
        """The digit (outside text fields) and the function key (anywhere)."""
        return str(self.number), f"f{self.number}"


SECTIONS: tuple[Section, ...] = (
    Section("status", "Status", "Balance, card, free quotas, recent activity",
            "credits_tui.screens.status:StatusScreen"),
    Section("billing", "Billing", "Card on file, add or edit, past invoices",
            "credits_tui.screens.billing:BillingScreen"),
    Section("buy", "Buy Credits", "Buy credits with the card on file", "credits_tui.screens.buy:BuyScreen"),
    Section("manage", "Manage Credits", "Search every transaction, totals, export CSV",
            "credits_tui.screens.manage:ManageScreen"),
    Section("audit", "Audit", "Who signed in, changed the card, bought or exported (admins)",
            "credits_tui.screens.audit:AuditScreen"),
)


def section_for(mode: str) -> Section | None:
    return next((section for section in SECTIONS if section.mode == mode), None)
