"""One page of the audit log in a DataTable: who did what, when, to what, and how it went."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timezone

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable

from credits_tui.api_client.models import AuditAction, AuditEvent, AuditOutcome

ACTION_LABELS: dict[str, str] = {
    AuditAction.sign_in: "Sign-in",
    AuditAction.sign_out: "Sign-out",
    AuditAction.card_add: "Card added",
    AuditAction.card_replace: "Card replaced",
    AuditAction.card_edit: "Card edited",
    AuditAction.card_remove_refused: "Card removal asked",
    AuditAction.purchase_create: "Purchase",
    AuditAction.export_csv: "CSV export",
    AuditAction.auto_recharge_update: "Auto-recharge set",
    AuditAction.alerts_update: "Alerts set",
}


def action_label(action: str) -> str:
    """``Purchase`` for ``purchase.create``; an action newer than this app shows as sent."""
    return ACTION_LABELS.get(action, action)


def outcome_text(outcome: AuditOutcome) -> Text:
    return Text(outcome.value, style="green" if outcome is AuditOutcome.success else "red")


def detail_text(event: AuditEvent) -> str:
    """``amount=25.00 last4=4242``: the row's facts as the CLI prints them (plain text, never markup)."""
    return " ".join(f"{key}={'' if value is None else value}" for key, value in event.detail.items())


def actor_text(event: AuditEvent) -> str:
    return event.actor.email if event.actor else "—"


TIME, OUTCOME = 16, 8  # "2026-11-27 08:33", "declined"
WIDE = {"actor": 20, "action": 17, "target": 16, "ip": 15}  # with room to spare
NARROW = {"actor": 9, "action": 9, "target": 6, "ip": 5}  # an 80-column terminal, with the detail
DETAIL_WANTED, DETAIL_MIN = 24, 9
COLUMNS = (("time", "Time (UTC)"), ("actor", "Actor"), ("action", "Action"), ("target", "Target"),
           ("outcome", "Outcome"), ("ip", "IP"), ("detail", "Detail"))


def column_widths(width: int, padding: int = 1) -> dict[str, int]:
    """Text widths of the columns for a table ``width`` cells wide.

    Time and outcome keep their width; actor, action, target and IP shrink together (each
    cut with an ellipsis; the dialog shows them whole) until the detail has ``DETAIL_WANTED``
    cells, and the detail takes whatever is left beyond that.
    """
    room = width - TIME - OUTCOME - 2 * padding * len(COLUMNS)  # for the shrinking ones and the detail
    shortfall = sum(WIDE.values()) + DETAIL_WANTED - room
    give = sum(WIDE[key] - NARROW[key] for key in WIDE)
    fraction = min(1.0, max(0.0, shortfall / give))
    widths = {key: WIDE[key] - round((WIDE[key] - NARROW[key]) * fraction) for key in WIDE}
    widths["detail"] = max(DETAIL_MIN, room - sum(widths.values()))
    return {"time": TIME, "outcome": OUTCOME, **widths}


class AuditTable(DataTable[Text]):
    """Rows keyed by event id; every cell is a ``rich.text.Text`` (server text is never markup)."""

    BINDINGS = [Binding("enter", "select_cursor", "Details")]
    DEFAULT_CSS = """
    AuditTable.-stale { opacity: 60%; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._events: dict[str, AuditEvent] = {}
        self._widths: dict[str, int] = {}

    def on_mount(self) -> None:
        self._fit_columns()

    def on_resize(self, _: events.Resize) -> None:
        if self._fit_columns():
            self.show_page(self.events, cursor=self.cursor_row)

    def _fit_columns(self) -> bool:
        """Lay the columns out for this width; True if they changed (the rows are then cleared)."""
        widths = column_widths(self.size.width - self.styles.scrollbar_size_vertical, self.cell_padding)
        if widths == self._widths:
            return False
        # DataTable cannot resize a column: lay them out again (the caller refills the rows).
        self._widths = widths
        self.clear(columns=True)
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=widths[key])
        return True

    def show_page(self, items: Sequence[AuditEvent], *, cursor: int = 0) -> None:
        """Replace the rows with ``items``, the row cursor on row ``cursor`` (or the last)."""
        items = list(items)
        if not self._fit_columns():
            self.clear()
        self._events = {str(event.id): event for event in items}
        for event in items:
            self.add_row(*self._cells(event), key=str(event.id))
        if items:
            self.move_cursor(row=min(cursor, len(items) - 1), animate=False, scroll=True)

    @staticmethod
    def _cells(event: AuditEvent) -> list[Text]:
        def cut(text: str) -> Text:
            return Text(text, no_wrap=True, overflow="ellipsis")

        return [
            Text(f"{event.at.astimezone(timezone.utc):%Y-%m-%d %H:%M}"),
            cut(actor_text(event)),
            cut(action_label(event.action)),
            cut(event.target or "—"),
            outcome_text(event.outcome),
            cut(event.ip or "—"),
            cut(detail_text(event)),
        ]

    @property
    def events(self) -> list[AuditEvent]:
        """The page shown, top to bottom."""
        return list(self._events.values())

    def event(self, key: str | None) -> AuditEvent | None:
        return self._events.get(key) if key is not None else None

    @property
    def current(self) -> AuditEvent | None:
        """The event under the cursor."""
        if not self.row_count:
            return None
        return self.event(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
