"""The Purchase Credits balance, large."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Digits

from credits_tui.formatting import credits_text


class BalanceDigits(Digits):
    """The balance in big digits, red when below zero (post-paid transcription)."""

    DEFAULT_CSS = """
    BalanceDigits { width: auto; color: $success; }
    BalanceDigits.-negative { color: $error; }
    """

    def show_amount(self, amount: Decimal) -> None:
        self.update(credits_text(amount))
        self.set_class(amount < 0, "-negative")
