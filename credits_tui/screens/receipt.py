"""The receipt of a card charge (DESIGN.md §8), in a dialog; ``s`` saves its PDF where the user says.

Purchases, auto-recharges and invoice payments have one; usage, refunds and adjustments do not.
The dialog fetches the receipt itself, so it opens at once with a loading line; a failure
is said inside it with a way to retry (there is no section banner over a dialog).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import Receipt, Transaction, TransactionType
from credits_tui.formatting import card_label, credits_text, type_label
from credits_tui.screens.base import CallApi
from credits_tui.screens.export_csv import ExportCsv, default_export_path
from credits_tui.screens.transaction_detail import TransactionDetail

RECEIPT_TYPES = frozenset({TransactionType.purchase, TransactionType.auto_recharge, TransactionType.invoice_payment})

T = TypeVar("T")


def has_receipt(item: Transaction) -> bool:
    """Whether the transaction charged a card, so that it has a receipt."""
    return item.transaction_type in RECEIPT_TYPES


def receipt_fields(receipt: Receipt) -> list[tuple[str, Text]]:
    """(field, value) for a person; every value is plain text, never markup."""
    item = receipt.transaction
    seller = ", ".join([receipt.seller.name, *receipt.seller.address])
    if receipt.seller.email:
        seller += f" · {receipt.seller.email}"
    return [
        ("Receipt", Text(receipt.number, style="bold")),
        ("Issued (UTC)", Text(f"{receipt.issued_at:%Y-%m-%d %H:%M:%S}")),
        ("Seller", Text(seller)),
        ("Billed to", Text(f"{receipt.account.name} (account {receipt.account.id})")),
        ("For", Text(f"{type_label(item.transaction_type.value)} #{item.id}: {item.description}")),
        ("Credits", Text(credits_text(item.amount, signed=True))),
        ("Amount", Text(f"{credits_text(receipt.amount_usd)} USD", style="bold")),
        ("Paid with", Text(card_label(receipt.card.brand, receipt.card.last4) if receipt.card else "—")),
    ]


def pdf_file_name(receipt: Receipt) -> str:
    # The number comes from the server: only the characters a file name surely takes.
    return f"receipt-{re.sub(r'[^A-Za-z0-9_-]', '_', receipt.number)}.pdf"


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a ``.part`` file renamed when complete)."""
    part = path.with_name(path.name + ".part")
    try:
        part.write_bytes(data)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


class ReceiptScreen(ModalScreen[None]):
    CSS_PATH = "receipt.tcss"
    BINDINGS = [
        Binding("escape,enter,q", "dismiss", "Close"),
        Binding("s", "save_pdf", "Save PDF"),
        Binding("d", "details", "Details"),
        Binding("r", "retry", "Retry", show=False),
    ]

    def __init__(self, call_api: CallApi, item: Transaction, process_label: str | None = None) -> None:
        super().__init__()
        self.call_api = call_api  # the section's: a lost sign-in is handled there
        self.item = item
        self.process_label = process_label
        self.receipt: Receipt | None = None
        self.saved_to: Path | None = None  # where the last PDF went

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("Receipt", classes="title", markup=False)
            yield Static(Text("Loading the receipt…", style="italic"), id="receipt-fields")
            yield Static("s saves the PDF · d shows the transaction · Escape closes", classes="hint", markup=False)

    def on_mount(self) -> None:
        self.load()

    def _say(self, message: str) -> None:
        self.query_one("#receipt-fields", Static).update(Text(message, style="italic"))

    async def _ask(self, request: Callable[[CreditsClient], Awaitable[T]]) -> T | None:
        """The answer, or None once the failure is handled: said here, or (a lost sign-in) closed."""
        result = await self.call_api(request, show_errors=False)
        if isinstance(result, errors.AuthenticationError):
            self.dismiss()
        elif isinstance(result, errors.ApiError):
            self.notify(result.message, title="Receipt", severity="error", timeout=10, markup=False)
            if self.receipt is None:
                self._say(f"The receipt could not be loaded: {result.message} (r to retry)")
        else:
            return result
        return None

    @work(exclusive=True, group="receipt", exit_on_error=False)
    async def load(self) -> None:
        receipt = await self._ask(lambda api: api.receipt(self.item.id))
        if receipt is None:
            return
        self.receipt = receipt
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for name, value in receipt_fields(receipt):
            table.add_row(name, value)
        self.query_one("#receipt-fields", Static).update(table)

    def action_retry(self) -> None:
        if self.receipt is None:
            self._say("Loading the receipt…")
            self.load()

    def action_details(self) -> None:
        self.app.push_screen(TransactionDetail(self.item, self.process_label))

    def action_save_pdf(self) -> None:
        receipt = self.receipt
        if receipt is None:
            self.notify("The receipt has not loaded yet.", severity="warning")
            return

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.save_pdf(receipt, path)

        self.app.push_screen(
            ExportCsv(default_export_path(name=pdf_file_name(receipt)),
                      f"Receipt {receipt.number}, {credits_text(receipt.amount_usd)} USD, as a PDF document.",
                      title="Save receipt as PDF", verb="Save"),
            chosen)

    @work(exclusive=True, group="receipt-pdf", exit_on_error=False)
    async def save_pdf(self, receipt: Receipt, path: Path) -> None:
        pdf = await self._ask(lambda api: api.receipt_pdf(receipt.transaction.id))
        if pdf is None:
            return
        try:
            await asyncio.to_thread(write_file, path, pdf)
        except OSError as error:
            self.notify(f"Could not write {path}: {error.strerror or error}.", title="Receipt", severity="error",
                        timeout=10, markup=False)
            return
        self.saved_to = path
        self.notify(f"Receipt {receipt.number} saved to {path}", title="Receipt", timeout=10, markup=False)
