"""Buy Credits: an amount checked as it is typed, a confirm step, exactly one purchase.

The screen keeps the Idempotency-Key of a purchase whose outcome it could not learn (the
connection dropped, the server failed): trying the same amount again sends the same key, so
the server returns the first result instead of charging twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal

from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, LoadingIndicator, Static

from credits_tui.api_client import errors
from credits_tui.api_client.models import AccountStatus, PurchaseResult, Role
from credits_tui.formatting import card_label, credits_text
from credits_tui.screens.base import CreditsScreen
from credits_tui.screens.confirm_purchase import ConfirmPurchase
from credits_tui.session import Session
from credits_tui.widgets.amount_input import DEFAULT_MAX_PURCHASE, AmountInput
from credits_tui.widgets.money import BalanceDigits

QUICK_AMOUNTS = (25, 50, 100, 250, 500)
READ_ONLY_NOTE = ("Only administrators can buy credits. You can see the balance here; ask an administrator "
                  "of your account to buy more.")
NO_CARD_NOTE = "A card on file is required to buy credits. Add one on Billing, then come back here."


class BuyScreen(CreditsScreen):
    SECTION = "buy"
    CSS_PATH = "buy.tcss"
    AUTO_FOCUS = "#amount"
    # Until the account status says the server's maximum (and if an older server does not),
    # this is a guide; the server's 422 stays the truth.
    MAX_PURCHASE = DEFAULT_MAX_PURCHASE
    BINDINGS = [
        # Enter in the amount field asks to confirm (the Input's own Enter); this one shows it
        # in the footer and serves when the focus is elsewhere. No letter or digit keys here:
        # 1-5, r and ? belong to the app (the amount field lets letters through to them).
        Binding("enter", "buy", "Buy"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._status: AccountStatus | None = None
        self._balance: Decimal | None = None
        self._busy = False
        self._confirming = False  # the confirm is open (or just answered): Enter waits for it
        # (amount, key) of a purchase whose outcome is unknown: a retry of it reuses the key.
        self._pending: tuple[Decimal, str] | None = None
        self._composed_for = session.who  # another sign-in on the same app gets a fresh form
        self._left = False  # suspended for another section, not for a dialog over this screen

    # --- layout -----------------------------------------------------------------------------

    @property
    def can_buy(self) -> bool:
        return self._composed_for is not None and self._composed_for[1] == Role.admin

    def compose_body(self) -> Iterable[Widget]:
        with VerticalScroll(id="buy-body"):
            with Horizontal(id="top"):
                with Vertical(id="balance-box"):
                    yield Label("Purchase Credits", classes="caption")
                    yield BalanceDigits("", id="balance")
                with Vertical(id="card-box"):
                    yield Label("Card on file", classes="caption")
                    yield Static("Loading…", id="card", markup=False)
            if not self.can_buy:
                yield Static(READ_ONLY_NOTE, id="read-only", markup=False)
                return
            with Vertical(id="no-card"):
                yield Static(NO_CARD_NOTE, id="no-card-text", markup=False)
                yield Button("Add a card on Billing", id="to-billing", variant="primary")
            with Vertical(id="buy-form"):
                yield Label("Amount in credits (1 credit = 1.00 USD)", classes="caption")
                with Horizontal(id="amount-row"):
                    yield AmountInput(id="amount", maximum=self.MAX_PURCHASE)
                    yield Button("Buy", id="buy", variant="success")
                yield Static("", id="amount-message", markup=False)
                with Horizontal(id="quick"):
                    yield Label("Quick amounts", id="quick-label")
                    for amount in QUICK_AMOUNTS:
                        yield Button(f"{amount:,}", id=f"quick-{amount}", classes="quick", compact=True)
                yield Static("", id="summary", markup=False)
                with Horizontal(id="processing"):
                    yield LoadingIndicator()
                    yield Static("", id="processing-text", markup=False)
                yield Static("", id="outcome", markup=False)

    def on_mount(self) -> None:
        self._show_hint()

    def on_screen_resume(self) -> None:
        if self._focus_amount() and self._left:
            # Back from another section, an amount left unfinished is still there, but selected:
            # what is typed now replaces it ("10" left, "5" typed asked to buy 105.00). Back
            # from a dialog over this one (the help, the palette), typing goes on where it was.
            self.amount_input.select_all()
        self._left = False

    def on_screen_suspend(self) -> None:
        # Leaving for another section (not for a dialog over this one): the last result is old
        # news when the person comes back, so it goes.
        self._left = not isinstance(self.app.screen, ModalScreen)
        if self._left and not self._busy:
            self._set_outcome("")

    # --- loading ----------------------------------------------------------------------------

    def reload(self) -> None:
        if self._busy:
            return  # the purchase under way shows the new balance when it ends
        self.load()

    @work(exclusive=True, group="buy-status", exit_on_error=False)
    async def load(self) -> None:
        if self.session.who != self._composed_for:  # another user signed in: start afresh
            self._composed_for = self.session.who
            self._status = self._balance = self._pending = None
            await self.recompose()
            self._show_hint()
        card_box = self.query_one("#card", Static)
        result = await self.call_api(lambda api: api.status())
        if isinstance(result, errors.ApiError):
            if self._status is None:
                card_box.update("Could not load the account.")
            return
        self._status = result
        self.refresh_bindings()  # Buy is offered only with a card on file (check_action)
        self._balance = result.purchase_credits
        if result.max_purchase is not None and self.can_buy:
            self.amount_input.maximum = result.max_purchase
        self.query_one("#balance", BalanceDigits).show_amount(result.purchase_credits)
        card = result.card_on_file
        card_box.update(f"{card_label(card.brand, card.last4)}\nExpires {card.exp_month:02d}/{card.exp_year}" if card
                        else "No card on file.")
        if self.can_buy:
            self._show_no_card(None if card else NO_CARD_NOTE)
            self._update_summary()

    # --- the form ---------------------------------------------------------------------------

    @property
    def amount_input(self) -> AmountInput:
        return self.query_one("#amount", AmountInput)

    def _focus_amount(self) -> bool:
        """Focus the amount, or the way to Billing without a card; True if the amount has it."""
        if not self.can_buy or self._busy:
            return False
        if self.query_one("#no-card").display:
            self.set_focus(self.query_one("#to-billing"))
            return False
        self.set_focus(self.amount_input)
        return True

    def _show_no_card(self, message: str | None) -> None:
        """With a message: the form gives way to the way to Billing; None brings the form back."""
        no_card, form = self.query_one("#no-card"), self.query_one("#buy-form")
        no_card.display = message is not None
        form.display = message is None
        if message is not None:
            self.query_one("#no-card-text", Static).update(message)
        if self.app.screen is self:
            self._focus_amount()

    def _show_hint(self, error: str | None = None) -> None:
        if not self.can_buy:
            return
        message = self.query_one("#amount-message", Static)
        maximum = credits_text(self.amount_input.maximum)
        message.update(error or f"From 1.00 to {maximum} credits, in steps of 0.01.")
        message.set_class(error is not None, "-error")

    def _update_summary(self) -> None:
        if not self.can_buy:
            return
        summary = self.query_one("#summary", Static)
        amount = self.amount_input.amount
        status = self._status
        if amount is None:
            summary.update("Type an amount, or pick a quick amount (Tab), then press Enter."
                           if not self.amount_input.value.strip() else "Correct the amount to see the charge.")
        elif status is None or self._balance is None:
            summary.update(f"Charge {credits_text(amount)} USD · loading the card on file…")
        elif status.card_on_file is None:
            summary.update("No card on file.")
        else:
            card = status.card_on_file
            summary.update(f"Charge {credits_text(amount)} USD to {card_label(card.brand, card.last4)} · "
                           f"balance after: {credits_text(self._balance + amount)}")

    @on(Input.Changed, "#amount")
    def _amount_changed(self, event: Input.Changed) -> None:
        result = event.validation_result
        self._show_hint(None if result is None or result.is_valid else result.failure_descriptions[0])
        self._update_summary()

    @on(Input.Submitted, "#amount")
    def _amount_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_buy()

    @on(Button.Pressed, ".quick")
    def _quick_amount(self, event: Button.Pressed) -> None:
        event.stop()
        if self._busy:
            return
        amount = int(str(event.button.id).removeprefix("quick-"))
        self.amount_input.value = f"{amount}.00"
        self.amount_input.cursor_position = len(self.amount_input.value)
        self.set_focus(self.amount_input)

    @on(Button.Pressed, "#buy")
    def _buy_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_buy()

    @on(Button.Pressed, "#to-billing")
    async def _to_billing(self, event: Button.Pressed) -> None:
        event.stop()
        await self.action_billing()

    async def action_billing(self) -> None:
        await self.app.run_action("section('billing')")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "buy":
            if not self.can_buy or (self._status is not None and self._status.card_on_file is None):
                return False
            return None if self._busy else True  # None: shown greyed out while processing
        return True

    # --- buying -----------------------------------------------------------------------------

    def action_buy(self) -> None:
        """Check the amount and ask to confirm (nothing happens while a purchase runs)."""
        if self._busy or self._confirming or not self.can_buy:
            return
        field = self.amount_input
        problem = field.problem()
        if problem is not None:
            field.validate(field.value)
            if not field.value.strip():
                field.add_class("-invalid")
            self._show_hint(problem)
            self.set_focus(field)
            return
        status = self._status
        if status is None or self._balance is None:
            self._set_outcome("Still loading the account and the card on file; try again in a moment.", "error")
            return
        if status.card_on_file is None:
            self._show_no_card(NO_CARD_NOTE)
            return
        amount = field.amount
        assert amount is not None
        self._confirming = True
        card = status.card_on_file
        self.app.push_screen(ConfirmPurchase(amount, card_label(card.brand, card.last4), self._balance + amount),
                             callback=lambda buy: self._confirmed(amount, buy))

    def _confirmed(self, amount: Decimal, buy: bool | None) -> None:
        self._confirming = False
        if self._busy:
            return
        if not buy:
            self._set_outcome("Cancelled: nothing was bought.", "muted")
            self._focus_amount()
            return
        if self._pending is not None and self._pending[0] == amount:
            key = self._pending[1]  # the same purchase again: the server answers it once
        else:
            key = f"credits-tui-{uuid.uuid4()}"
        self._pending = (amount, key)
        self._set_busy(True, amount)
        self.buy(amount, key)

    def _set_busy(self, busy: bool, amount: Decimal | None = None) -> None:
        self._busy = busy
        self.query_one("#processing").display = busy
        if busy and amount is not None:
            self.query_one("#processing-text", Static).update(
                f"Processing: charging {credits_text(amount)} USD to the card… please wait.")
            self._set_outcome("")
        for widget in (self.amount_input, self.query_one("#buy"), *self.query(".quick")):
            widget.disabled = busy
        self.refresh_bindings()
        if not busy and self.app.screen is self:
            self._focus_amount()

    @work(group="buy-purchase", exit_on_error=False)
    async def buy(self, amount: Decimal, key: str) -> None:
        try:
            result = await self.call_api(lambda api: api.purchase(amount, idempotency_key=key),
                                         show_errors=False)
        finally:
            self._set_busy(False)
        if isinstance(result, errors.ApiError):
            self._failed(amount, result)
        else:
            self._bought(amount, result)

    def _bought(self, amount: Decimal, result: PurchaseResult) -> None:
        self._pending = None
        self._balance = result.purchase_credits
        self.query_one("#balance", BalanceDigits).show_amount(result.purchase_credits)
        self.amount_input.value = ""
        self._show_hint()
        self._update_summary()
        purchase = result.purchase
        self._set_outcome(
            f"Bought {credits_text(purchase.amount)} credits, charged {credits_text(purchase.charged_usd)} USD "
            f"to the card ending {purchase.card_last4}. New balance: {credits_text(result.purchase_credits)}.",
            "success")
        self.app.notify(f"Bought {credits_text(purchase.amount)} credits", title="Purchase complete",
                        markup=False)
        self.load()  # and the account as it is now (a status fetched before the purchase is stale)

    def _failed(self, amount: Decimal, error: errors.ApiError) -> None:
        unknown_outcome = isinstance(error, (errors.NetworkError, errors.ServerError, errors.ProtocolError)) or (
            isinstance(error, errors.ConflictError) and error.code == "idempotency_in_progress")
        if not unknown_outcome:
            self._pending = None  # the server's answer is final: a new try is a new purchase
        if isinstance(error, errors.CardDeclinedError):
            self._set_outcome(f"{error.message} Try again, or change the card on Billing (F2).", "error")
        elif isinstance(error, errors.CardRequiredError):
            if self._status is not None:  # the server's word: there is no card (any longer)
                self._status = self._status.model_copy(update={"card_on_file": None})
                self.refresh_bindings()
            self.query_one("#card", Static).update("No card on file.")
            self._show_no_card(error.message)
        elif isinstance(error, errors.ValidationError) and (error.field == "amount" or
                                                              error.code.startswith("amount_")):
            self.amount_input.refused(error)
            self._show_hint(error.message)
        elif isinstance(error, errors.AuthenticationError):
            self._set_outcome("Your sign-in ended before the purchase: nothing was bought. Sign in again, "
                              "then try again.", "error")
        elif isinstance(error, errors.ServerError):
            self._set_outcome(f"{error.message} It is safe to try again: the same purchase is sent again "
                              "and cannot be charged twice.", "error")
            self.load()
        elif unknown_outcome:
            self._set_outcome(
                f"{error.message} The purchase of {credits_text(amount)} credits may or may not have gone "
                "through. It is safe to try again (press Enter): the same purchase is sent again and "
                "cannot be charged twice.", "error")
            self.load()  # the balance tells whether it went through, if the server answers
        else:
            self._set_outcome(error.message, "error")

    def _set_outcome(self, text: str, kind: str = "") -> None:
        outcome = self.query_one("#outcome", Static)
        outcome.update(text)
        outcome.display = bool(text)
        for name in ("success", "error", "muted"):
            outcome.set_class(kind == name, f"-{name}")

    # --- command palette ----------------------------------------------------------------------

    def section_commands(self) -> Iterable[SystemCommand]:
        yield from super().section_commands()
        if not self.can_buy:
            return
        yield SystemCommand("Buy credits", "Ask to confirm the amount typed on Buy Credits", self.action_buy)
        for amount in QUICK_AMOUNTS:
            yield SystemCommand(f"Buy credits: fill in {amount:,}.00", "Put a quick amount in the field",
                                lambda amount=amount: self._fill(amount))
        yield SystemCommand("Add a card on Billing", "A card on file is required to buy", self.action_billing)

    def _fill(self, amount: int) -> None:
        if not self._busy:
            self.amount_input.value = f"{amount}.00"
            self._focus_amount()
