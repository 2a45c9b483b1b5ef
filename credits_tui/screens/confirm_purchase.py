"""Ask before charging the card: amount, card and the balance after, restated."""

from __future__ import annotations

from decimal import Decimal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from credits_tui.formatting import credits_text


class ConfirmPurchase(ModalScreen[bool]):
    """True to buy, False to cancel. Answers once: a second key press is ignored.

    Cancel has the focus and Enter presses the focused button: Enter alone never buys,
    however often it is pressed; ``y`` or choosing Buy does.
    """

    CSS_PATH = "confirm_purchase.tcss"
    AUTO_FOCUS = "#cancel"
    BINDINGS = [
        Binding("y", "answer(True)", "Buy"),
        Binding("n", "answer(False)", "Cancel", show=False),
        Binding("escape", "answer(False)", "Cancel", key_display="n / Esc"),
    ]

    def __init__(self, amount: Decimal, card: str, balance_after: Decimal) -> None:
        super().__init__()
        self.amount = amount
        self.card = card
        self.balance_after = balance_after
        self._answered = False

    def compose(self) -> ComposeResult:
        amount = credits_text(self.amount)
        with Vertical(id="confirm-box"):
            yield Label("Confirm purchase", classes="title")
            yield Static(f"Buy {amount} credits?", id="confirm-amount", markup=False)
            yield Static(f"Charge {amount} USD to the {self.card}.", id="confirm-card", markup=False)
            yield Static(f"Balance after: {credits_text(self.balance_after)} credits.", id="confirm-balance",
                         markup=False)
            with Horizontal(id="confirm-buttons"):
                # Cancel left, the action right: the order of every dialog in the app.
                yield Button("Cancel", id="cancel")
                yield Button(f"Buy {amount} credits", id="confirm", variant="success")
            yield Static("y buys · Escape or n cancels", classes="hint")

    def action_answer(self, buy: bool) -> None:
        if self._answered:
            return
        self._answered = True
        self.dismiss(buy)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "confirm")
