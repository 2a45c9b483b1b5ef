"""Add, replace or edit the card on file: a dialog that returns the saved card, or None.

Adding and replacing send the whole card (``PUT /billing/card``); editing never asks for
the number again and sends only what changed (``PATCH /billing/card``). Every field is
checked before anything is sent; the server's refusal of a field shows under that field.
"""

from __future__ import annotations

from typing import Literal

import pydantic
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from credits_tui.api_client import errors
from credits_tui.api_client.models import CardInput, CardPatch, CardSummary
from credits_tui.formatting import card_label
from credits_tui.screens.base import CallApi
from credits_tui.widgets.card_form import REQUIRED_MESSAGES, CardForm, form_field

Mode = Literal["add", "replace", "edit"]

DENSE_BELOW = 40  # terminal lines

TITLES = {"add": "Add Credit Card", "replace": "Replace Card", "edit": "Edit Card"}


class _Problem(Static):
    """What went wrong with the whole form; the dialog refits when it grows or shrinks."""

    def on_resize(self, _: events.Resize) -> None:
        fit = getattr(self.screen, "_fit", None)
        if fit is not None:
            self.screen.call_after_refresh(fit)


class CardFormScreen(ModalScreen[CardSummary | None]):
    CSS_PATH = "card_form.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(self, call_api: CallApi, mode: Mode, card: CardSummary | None = None) -> None:
        super().__init__()
        self.call_api = call_api  # Billing's: a lost sign-in is handled there
        if mode in ("edit", "replace") and card is None:
            raise ValueError(f"{mode} needs the card on file")
        self.mode: Mode = mode
        self.card = card
        self.saving = False

    # --- composition ----------------------------------------------------------------------------

    def _intro(self) -> str:
        on_file = card_label(self.card.brand, self.card.last4) if self.card else ""
        if self.mode == "edit":
            return (f"{on_file}: change the name, expiry or billing address. To use a different card number, "
                    "replace the card instead.")
        if self.mode == "replace":
            return (f"The new card replaces {on_file}. The number and CVC go to the payment processor; "
                    "only the last four digits are kept.")
        return ("A card on file is needed to buy credits. The number and CVC go to the payment processor; "
                "only the last four digits are kept.")

    def compose(self) -> ComposeResult:
        with Vertical(id="card-dialog"):
            yield Static(TITLES[self.mode], id="card-title", markup=False)
            yield Static(self._intro(), id="card-intro", markup=False)
            with VerticalScroll(id="card-scroll"):
                yield CardForm(ask_number=self.mode != "edit", card=self.card, id="card-form")
            yield _Problem("", id="card-problem", markup=False)
            with Horizontal(id="card-buttons"):
                yield Static("", id="card-saving", markup=False)
                # Every dialog: Cancel on the left, the action on the right.
                yield Button("Cancel", id="card-cancel", compact=True)
                yield Button("Save Card", variant="primary", id="card-save", compact=True)
            yield Static("Enter: next field, then save · Ctrl+S: save · Esc: cancel", id="card-keys",
                         markup=False)

    def on_mount(self) -> None:
        form = self.form
        form.set_class(self.app.size.height < DENSE_BELOW, "-dense")
        (form.first_empty_required() or form.input("cardholder_name")).focus()

    def on_resize(self, event: events.Resize) -> None:
        # On a short terminal the fields go line by line, so the whole form fits.
        self.form.set_class(event.size.height < DENSE_BELOW, "-dense")
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Let the fields scroll, so the buttons stay in view however short the terminal."""
        dialog = self.query_one("#card-dialog")
        scroll = self.query_one("#card-scroll")
        others = sum(child.outer_size.height + child.styles.margin.top + child.styles.margin.bottom
                     for child in dialog.children if child is not scroll and child.display)
        chrome = dialog.styles.border.spacing.height + dialog.styles.padding.height + dialog.styles.margin.height
        scroll.styles.max_height = max(3, self.size.height - others - chrome)

    @property
    def form(self) -> CardForm:
        return self.query_one("#card-form", CardForm)

    # --- keys and buttons -------------------------------------------------------------------------

    @on(Input.Submitted)
    def _next_or_save(self, event: Input.Submitted) -> None:
        """Enter walks to the next empty required field; with none left, it saves."""
        event.stop()
        empty = self.form.first_empty_required()
        if empty is not None and empty is not event.input:
            empty.focus()
        elif empty is None:
            self.action_save()
        else:
            name = CardForm.name_of(event.input)
            self.form.show_error(name, REQUIRED_MESSAGES.get(name, "Fill in this field."))

    @on(Button.Pressed, "#card-save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#card-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_cancel(self) -> None:
        if self.saving:
            # The request may already be with the server: let it answer rather than guess.
            self.notify("Saving the card: wait for the server's answer.", severity="warning", markup=False)
            return
        self.dismiss(None)

    def action_save(self) -> None:
        if self.saving:
            return  # one request at a time: a second Enter or click sends nothing
        form = self.form
        self._problem("")
        if form.validate():
            self._problem("Correct the fields marked in red.")
            return
        request: CardInput | CardPatch
        try:
            if self.mode == "edit":
                assert self.card is not None
                request = form.card_patch(self.card)
                if not request.model_fields_set:
                    self.notify("Nothing changed: the card on file is as it was.", markup=False)
                    self.dismiss(None)
                    return
            else:
                request = form.card_input()
        except pydantic.ValidationError as invalid:  # a rule the checks above missed
            problem = invalid.errors()[0]
            name = form_field(".".join(str(part) for part in problem.get("loc", ())))
            if name:
                form.show_error(name, problem["msg"])
            else:
                self._problem(problem["msg"])
            return
        self._busy(True)
        self.save(request)

    # --- saving ----------------------------------------------------------------------------------

    @work(exclusive=True, group="save-card", exit_on_error=False)
    async def save(self, request: CardInput | CardPatch) -> None:
        result = await self.call_api(lambda api: api.put_card(request) if isinstance(request, CardInput)
                                     else api.patch_card(request), show_errors=False)
        if isinstance(result, errors.AuthenticationError):
            self.saving = False
            self.dismiss(None)  # and Billing has told the app, which asks to sign in again
            return
        if isinstance(result, errors.ApiError):
            error = result
            # A refusal (a bad field, or the card check at save: declined, expired, the
            # processor failing) leaves the card on file as it was and the form as typed.
            self._busy(False)
            name = form_field(error.field)
            if name and name in self.form.field_names:
                self.form.show_error(name, error.message)
            if isinstance(error, errors.NetworkError):
                self._problem(error.message)  # no answer: whether the server kept the card is not known
                return
            unchanged = "No card was added." if self.mode == "add" else "The card on file was not changed."
            self._problem(f"{error.message} {unchanged}")
            return
        self.saving = False
        self.dismiss(result)

    def _busy(self, busy: bool) -> None:
        self.saving = busy
        form = self.form
        focused = self.focused
        form.disabled = busy
        save = self.query_one("#card-save", Button)
        save.disabled = busy
        save.label = "Saving…" if busy else "Save Card"
        self.query_one("#card-cancel", Button).disabled = busy
        # Short enough for the room beside the buttons in any dialog width (a sentence was cut).
        self.query_one("#card-saving", Static).update("Checking the card…" if busy else "")
        self.set_class(busy, "-saving")
        if not busy and (focused is None or focused.disabled):
            (form.first_empty_required() or form.input("cardholder_name")).focus()

    def _problem(self, message: str) -> None:
        problem = self.query_one("#card-problem", Static)
        problem.update(message)
        problem.display = bool(message)
        self.call_after_refresh(self._fit)


__all__ = ["CardFormScreen", "Mode"]
