"""The account's notifications (DESIGN.md §7), newest first, in a dialog over Status.

Keyset-paged as the server serves them: a page at a time, "more" appends the next. Enter
shows the highlighted one's body. Subjects and bodies are the server's text: never markup.
"""

from __future__ import annotations

from datetime import timezone

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from credits_tui.api_client import errors
from credits_tui.api_client.models import Notification, NotificationKind
from credits_tui.screens.base import CallApi

PAGE = 50
KIND_LABELS = {
    NotificationKind.low_balance: "Low balance",
    NotificationKind.auto_recharge_failed: "Auto-recharge failed",
    NotificationKind.auto_recharge_disabled: "Auto-recharge off",
    NotificationKind.purchase_receipt: "Receipt",
    NotificationKind.invoice_paid: "Invoice paid",
    NotificationKind.invoice_failed: "Invoice failed",
    NotificationKind.card_expiring: "Card expiring",
}
HINT = "Enter shows the message · m loads more · Escape closes"


def delivery_text(item: Notification) -> Text:
    if item.delivered_at is None:
        return Text("Pending", style="yellow")
    return Text("Delivered", style="green")


def body_text(item: Notification) -> Text:
    text = Text(item.subject, style="bold")
    text.append(f"\n{item.created_at.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC · to "
                f"{', '.join(item.recipients) or 'nobody'} · ")
    text.append_text(delivery_text(item))
    text.append(f"\n\n{item.body}")
    return text


class NotificationsScreen(ModalScreen[None]):
    CSS_PATH = "notifications.tcss"
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("m", "more", "More"),
    ]

    def __init__(self, call_api: CallApi, *, page_size: int = PAGE) -> None:
        super().__init__()
        self.call_api = call_api  # the section's: a lost sign-in is handled there
        self.page_size = page_size
        self.items: list[Notification] = []
        self.next_cursor: str | None = None
        self.loaded = False

    def compose(self) -> ComposeResult:
        with Vertical(id="notifications-box"):
            yield Static("Notifications (newest first)", classes="title", markup=False)
            yield Static("Loading…", id="notifications-message", markup=False)
            yield DataTable(id="notifications-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="notifications-body-box"):
                yield Static("", id="notifications-body", markup=False)
            yield Static(HINT, classes="hint", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Time (UTC)", key="time")
        table.add_column("Kind", key="kind")
        table.add_column("Delivery", key="delivery")  # before the subject: long subjects are cut at 80 columns
        table.add_column("Subject", key="subject")
        self.query_one("#notifications-body-box").display = False
        self.load_page(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "more":
            return self.next_cursor is not None
        return True

    def action_more(self) -> None:
        if self.next_cursor is not None:
            self.load_page(self.next_cursor)

    @work(exclusive=True, group="notifications", exit_on_error=False)
    async def load_page(self, cursor: str | None) -> None:
        message = self.query_one("#notifications-message", Static)
        page = await self.call_api(lambda api: api.notifications(limit=self.page_size, cursor=cursor),
                                   show_errors=False)
        if isinstance(page, errors.AuthenticationError):
            self.dismiss()
            return
        if isinstance(page, errors.ApiError):
            error = page
            message.update(f"The notifications could not be loaded: {error.message} (Escape, then try again)")
            message.display = True
            return
        self.loaded = True
        self.items.extend(page.items)
        self.next_cursor = page.next_cursor
        table = self.query_one(DataTable)
        for item in page.items:
            table.add_row(
                Text(f"{item.created_at.astimezone(timezone.utc):%Y-%m-%d %H:%M}"),
                Text(KIND_LABELS.get(item.kind, item.kind.value)),
                delivery_text(item),
                Text(item.subject),
                key=str(item.id),
            )
        shown = len(self.items)
        if not shown:
            message.update("No notifications yet.")
        else:
            more = " · m loads older ones" if self.next_cursor else ""
            message.update(f"{shown:,} shown{more}.")
        table.display = bool(shown)
        self.refresh_bindings()
        table.focus()

    @on(DataTable.RowSelected, "#notifications-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        item = self.items[event.cursor_row] if 0 <= event.cursor_row < len(self.items) else None
        box = self.query_one("#notifications-body-box")
        if item is None:
            return
        self.query_one("#notifications-body", Static).update(body_text(item))
        box.display = True
        box.scroll_home(animate=False)

    @on(DataTable.RowHighlighted, "#notifications-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        # The body shown is the selected one's: moving on hides it until Enter again.
        self.query_one("#notifications-body-box").display = False


__all__ = ["NotificationsScreen"]
