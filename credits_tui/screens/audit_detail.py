"""Every field of one audit event, in a dialog over the Audit section."""

from __future__ import annotations

from datetime import timezone

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from credits_tui.api_client.models import AuditEvent
from credits_tui.widgets.audit_table import action_label, outcome_text


def audit_fields(event: AuditEvent) -> list[tuple[str, Text]]:
    """(field, value) for a person, then each detail as its own row; plain text, never markup."""
    actor = f"{event.actor.name} <{event.actor.email}>" if event.actor else "— (nobody was signed in)"
    label = action_label(event.action)
    fields = [
        ("Event", Text(f"#{event.id}")),
        ("Time (UTC)", Text(f"{event.at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}")),
        ("Actor", Text(actor)),
        ("Action", Text(label if label == event.action else f"{label} ({event.action})")),
        ("Target", Text(event.target or "—")),
        ("Outcome", outcome_text(event.outcome)),
        ("IP", Text(event.ip or "—")),
    ]
    fields += [(f"  {key}", Text("—" if value is None else str(value))) for key, value in event.detail.items()]
    return fields


class AuditDetail(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    AuditDetail { align: center middle; }
    AuditDetail > VerticalScroll {
        width: 80; max-width: 95%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    AuditDetail #audit-detail-fields { margin-bottom: 1; }
    """

    def __init__(self, event: AuditEvent) -> None:
        super().__init__()
        self.event = event

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for name, value in audit_fields(self.event):
            table.add_row(Text(name), value)
        with VerticalScroll():
            yield Static("Audit event", classes="title", markup=False)
            yield Static(table, id="audit-detail-fields")
            yield Static("Escape or Enter closes.", classes="hint", markup=False)
