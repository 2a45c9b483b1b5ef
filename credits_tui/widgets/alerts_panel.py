"""Billing → Notifications (DESIGN.md §7): the low-balance alert and who is told about events.

The threshold empty means no low-balance alert. Recipients are chosen from the account's
users (name and email); until someone chooses, the server's default (the admins) is what
it sends back, so that is what is ticked. Support sees it all, nothing editable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import AccountUser, NotificationSettings, NotificationSettingsUpdate, UserList
from credits_tui.widgets.amount_input import MoneyInput
from credits_tui.widgets.auto_recharge_panel import money_value

if TYPE_CHECKING:
    from credits_tui.screens.base import CreditsScreen

READ_ONLY = "Only administrators can change who is told, and when."
FIELDS = ("low_balance_threshold", "recipients")


def user_prompt(user: AccountUser) -> Text:
    return Text.assemble((user.name, "bold"), f" <{user.email}> · {user.role.value}")


class AlertsPanel(Vertical):
    """Loads and saves the alert settings through its screen's ``call_api``; posts ``Saved``."""

    DEFAULT_CSS = """
    AlertsPanel { height: auto; }
    AlertsPanel .panel-row { height: auto; }
    AlertsPanel .panel-row > Label { width: 30; padding: 1 1 0 0; }
    AlertsPanel .field-message { color: $text-muted; height: auto; }
    AlertsPanel #alerts-low_balance_threshold-message { padding-left: 30; }
    AlertsPanel .field-message.-error { color: $error; }
    AlertsPanel #alerts-recipients { height: auto; max-height: 8; max-width: 76; }
    AlertsPanel #alerts-save { margin-top: 1; }
    AlertsPanel .read-only { color: $text-muted; text-style: italic; }
    """

    class Saved(Message):
        """The alert settings were saved: the account's warnings may have changed."""

        def __init__(self, settings: NotificationSettings) -> None:
            super().__init__()
            self.settings = settings

    def __init__(self, *, editable: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.editable = editable
        self.settings: NotificationSettings | None = None
        self.users: list[AccountUser] = []

    def compose(self) -> ComposeResult:
        yield Label("Notifications", classes="caption")
        with Horizontal(classes="panel-row"):
            yield Label("Low-balance alert below")
            yield MoneyInput(id="alerts-low_balance_threshold", optional=True)
        yield Static("Empty: no low-balance alert.", id="alerts-low_balance_threshold-message",
                     classes="field-message", markup=False)
        yield Label("Who is told (email)", classes="field-label")
        yield SelectionList[int](id="alerts-recipients")
        yield Static("", id="alerts-recipients-message", classes="field-message", markup=False)
        if self.editable:
            yield Button("Save notifications", id="alerts-save", variant="primary")
        else:
            yield Static(READ_ONLY, classes="read-only", markup=False)

    def on_mount(self) -> None:
        self.query_one(MoneyInput).disabled = not self.editable
        self.query_one(SelectionList).disabled = not self.editable
        self.query_one("#alerts-recipients-message").display = False

    @property
    def api_screen(self) -> CreditsScreen:
        return self.screen  # type: ignore[return-value]

    @work(exclusive=True, group="alerts", exit_on_error=False)
    async def load(self) -> None:
        async def fetch(api: CreditsClient) -> tuple[NotificationSettings, UserList]:
            return await api.notification_settings(), await api.users()

        result = await self.api_screen.call_api(fetch)
        if not isinstance(result, errors.ApiError):
            settings, users = result
            self.show_settings(settings, users.items)

    def show_settings(self, settings: NotificationSettings, users: list[AccountUser] | None = None) -> None:
        self.settings = settings
        if users is not None:
            self.users = list(users)
        self.query_one(MoneyInput).value = money_value(settings.low_balance_threshold)
        chosen = set(settings.recipients)
        recipients = self.query_one("#alerts-recipients", SelectionList)
        highlighted = recipients.highlighted
        recipients.clear_options()
        recipients.add_options([Selection(user_prompt(user), user.id, user.id in chosen) for user in self.users])
        if highlighted is not None and highlighted < recipients.option_count:
            recipients.highlighted = highlighted
        for field in FIELDS:
            self.field_message(field, None)

    def field_message(self, field: str, message: str | None) -> None:
        shown = self.query_one(f"#alerts-{field}-message", Static)
        if field == "low_balance_threshold":
            shown.update(message or "Empty: no low-balance alert.")
            self.query_one(MoneyInput).set_class(message is not None, "-invalid")
        else:
            shown.update(message or "")
            shown.display = message is not None
        shown.set_class(message is not None, "-error")

    @on(Input.Changed, "MoneyInput")
    def _threshold_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.field_message("low_balance_threshold", self.query_one(MoneyInput).problem())

    @on(SelectionList.SelectedChanged)
    def _recipients_changed(self, event: SelectionList.SelectedChanged[int]) -> None:
        event.stop()
        self.field_message("recipients", None)

    @on(Input.Submitted, "MoneyInput")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.save()

    @on(Button.Pressed, "#alerts-save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.save()

    def save(self) -> None:
        if not self.editable:
            return
        field = self.query_one(MoneyInput)
        if (problem := field.problem()) is not None:
            self.field_message("low_balance_threshold", problem)
            return
        recipients = self.query_one("#alerts-recipients", SelectionList).selected
        # Kept in the account's order of users, so the same choice always saves the same list.
        ordered = [user.id for user in self.users if user.id in recipients]
        self.put(NotificationSettingsUpdate(low_balance_threshold=field.amount, recipients=ordered))

    @work(exclusive=True, group="alerts", exit_on_error=False)
    async def put(self, update: NotificationSettingsUpdate) -> None:
        save = self.query_one("#alerts-save", Button)
        save.disabled = True
        try:
            result = await self.api_screen.call_api(lambda api: api.put_notification_settings(update),
                                                    show_errors=False)
        finally:
            save.disabled = False
        if isinstance(result, errors.AuthenticationError):
            return
        if isinstance(result, errors.ApiError):
            self.field_message(result.field if result.field in FIELDS else "recipients", result.message)
            return
        self.show_settings(result)
        self.app.notify("Notification settings saved.", title="Billing", markup=False)
        self.post_message(self.Saved(result))


__all__ = ["AlertsPanel"]
