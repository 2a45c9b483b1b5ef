"""Billing → Auto-recharge (DESIGN.md §7): on/off, the threshold and the recharge-to amount.

The amounts are checked as they are typed (the same typing rules as Buy's amount); the
server's refusals are shown on the field they name. A rule that turned itself off after
failed charges says so, with what to do. Support sees it all, nothing editable.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, Static, Switch

from credits_tui.api_client import errors
from credits_tui.api_client.models import (
    AUTO_RECHARGE_MAX_FAILURES,
    AutoRecharge,
    AutoRechargeUpdate,
    recharge_to_problem,
)
from credits_tui.formatting import credits_text
from credits_tui.widgets.amount_input import MoneyInput

if TYPE_CHECKING:
    from credits_tui.screens.base import CreditsScreen

READ_ONLY = "Only administrators can change auto-recharge."
TURNED_OFF = (f"Turned off after {AUTO_RECHARGE_MAX_FAILURES} failed charges — fix the card and turn it on "
              "again.")
FIELDS = ("enabled", "threshold", "recharge_to")


def money_value(amount: Decimal | None) -> str:
    return "" if amount is None else credits_text(amount)


def rule_state(rule: AutoRecharge) -> Text:
    """The rule's health: its last failure, and whether it turned itself off."""
    text = Text()
    if not rule.enabled and rule.consecutive_failures >= AUTO_RECHARGE_MAX_FAILURES:
        text.append(TURNED_OFF, style="bold red")
    elif rule.consecutive_failures:
        text.append(f"Failing: {rule.consecutive_failures} failed charge(s) in a row.", style="bold red")
    if rule.last_failure is not None:
        failure = rule.last_failure
        if text:
            text.append("\n")
        text.append(f"Last failure {failure.at:%Y-%m-%d %H:%M} UTC: {failure.message or failure.code}")
    return text


class AutoRechargePanel(Vertical):
    """Loads and saves the rule itself through its screen's ``call_api``; posts ``Saved``."""

    DEFAULT_CSS = """
    AutoRechargePanel { height: auto; }
    AutoRechargePanel .panel-row { height: auto; }
    AutoRechargePanel .panel-row > Label { width: 30; padding: 1 1 0 0; }
    AutoRechargePanel .field-message { color: $text-muted; padding-left: 30; height: auto; }
    AutoRechargePanel .field-message.-error { color: $error; }
    AutoRechargePanel #ar-state { height: auto; }
    AutoRechargePanel #ar-save { margin-top: 1; }
    AutoRechargePanel .read-only { color: $text-muted; text-style: italic; }
    """

    class Saved(Message):
        """The rule was saved: the account's warnings may have changed."""

        def __init__(self, rule: AutoRecharge) -> None:
            super().__init__()
            self.rule = rule

    def __init__(self, *, editable: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.editable = editable
        self.rule: AutoRecharge | None = None

    def compose(self) -> ComposeResult:
        yield Label("Auto-recharge", classes="caption")
        with Horizontal(classes="panel-row"):
            yield Label("Recharge automatically")
            yield Switch(id="ar-enabled", disabled=not self.editable)
        yield Static("", id="ar-enabled-message", classes="field-message", markup=False)
        with Horizontal(classes="panel-row"):
            yield Label("When the balance falls below")
            yield MoneyInput(id="ar-threshold", optional=True)
        yield Static("", id="ar-threshold-message", classes="field-message", markup=False)
        with Horizontal(classes="panel-row"):
            yield Label("Recharge it to")
            yield MoneyInput(id="ar-recharge_to", optional=True)
        yield Static("", id="ar-recharge_to-message", classes="field-message", markup=False)
        yield Static("", id="ar-state", markup=False)
        if self.editable:
            yield Button("Save auto-recharge", id="ar-save", variant="primary")
        else:
            yield Static(READ_ONLY, classes="read-only", markup=False)

    def on_mount(self) -> None:
        for field in self.query(MoneyInput):
            field.disabled = not self.editable

    @property
    def api_screen(self) -> CreditsScreen:
        return self.screen  # type: ignore[return-value]

    # --- loading and showing ------------------------------------------------------------------

    @work(exclusive=True, group="auto-recharge", exit_on_error=False)
    async def load(self) -> None:
        result = await self.api_screen.call_api(lambda api: api.auto_recharge())
        if not isinstance(result, errors.ApiError):
            self.show_rule(result)

    def show_rule(self, rule: AutoRecharge) -> None:
        self.rule = rule
        self.query_one("#ar-enabled", Switch).value = rule.enabled
        self.query_one("#ar-threshold", MoneyInput).value = money_value(rule.threshold)
        self.query_one("#ar-recharge_to", MoneyInput).value = money_value(rule.recharge_to)
        for field in FIELDS:
            self.field_message(field, None)
        state = self.query_one("#ar-state", Static)
        text = rule_state(rule)
        state.update(text)
        state.display = bool(text)

    def field_message(self, field: str, message: str | None) -> None:
        """Say what is wrong with ``field`` (None: nothing)."""
        shown = self.query_one(f"#ar-{field}-message", Static)
        shown.update(message or "")
        shown.display = message is not None
        shown.set_class(message is not None, "-error")
        if field != "enabled":
            self.query_one(f"#ar-{field}", MoneyInput).set_class(message is not None, "-invalid")

    # --- editing and saving ---------------------------------------------------------------------

    @on(Input.Changed, "MoneyInput")
    def _amount_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.check()

    @on(Switch.Changed)
    def _switched(self, event: Switch.Changed) -> None:
        event.stop()
        self.field_message("enabled", None)

    def check(self, *, final: bool = False) -> AutoRechargeUpdate | None:
        """The update the fields describe, or None after showing what is wrong on each field.

        While typing (not ``final``) an empty field is not yet a problem; on saving, a rule
        that is on, or has either amount, needs both (as the server does).
        """
        threshold_field = self.query_one("#ar-threshold", MoneyInput)
        to_field = self.query_one("#ar-recharge_to", MoneyInput)
        problems = {"threshold": threshold_field.problem(), "recharge_to": to_field.problem()}
        threshold, to = threshold_field.amount, to_field.amount
        enabled = self.query_one("#ar-enabled", Switch).value
        if final and (enabled or threshold is not None or to is not None):
            if threshold is None and problems["threshold"] is None:
                problems["threshold"] = "Give the balance below which to recharge."
            if to is None and problems["recharge_to"] is None:
                problems["recharge_to"] = "Give the balance to recharge to."
        if problems["recharge_to"] is None and threshold is not None and to is not None:
            problems["recharge_to"] = recharge_to_problem(threshold, to, enabled=enabled)
        for field, problem in problems.items():
            self.field_message(field, problem)
        if any(problems.values()):
            return None
        return AutoRechargeUpdate(enabled=enabled, threshold=threshold, recharge_to=to)

    @on(Input.Submitted, "MoneyInput")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.save()

    @on(Button.Pressed, "#ar-save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.save()

    def save(self) -> None:
        if self.editable and (update := self.check(final=True)) is not None:
            self.put(update)

    @work(exclusive=True, group="auto-recharge", exit_on_error=False)
    async def put(self, update: AutoRechargeUpdate) -> None:
        save = self.query_one("#ar-save", Button)
        save.disabled = True
        try:
            result = await self.api_screen.call_api(lambda api: api.put_auto_recharge(update), show_errors=False)
        finally:
            save.disabled = False
        if isinstance(result, errors.AuthenticationError):
            return
        if isinstance(result, errors.ApiError):
            # 409 card_required names no field: it is about turning the rule on.
            field = result.field if result.field in FIELDS else "enabled"
            self.field_message(field, result.message)
            return
        self.show_rule(result)
        self.app.notify("Auto-recharge on." if result.enabled else "Auto-recharge off.", title="Billing",
                        markup=False)
        self.post_message(self.Saved(result))


__all__ = ["AutoRechargePanel"]
