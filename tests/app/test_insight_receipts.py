"""Receipts in Manage Credits: Enter on a card charge shows its receipt; s saves the PDF."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from rich.console import Console
from textual.widgets import Input

from credits_tui.api_client import errors
from credits_tui.api_client.models import TransactionType
from credits_tui.screens.export_csv import ExportCsv
from credits_tui.screens.manage import ManageScreen
from credits_tui.screens.receipt import ReceiptScreen
from credits_tui.screens.transaction_detail import TransactionDetail
from credits_tui.widgets.transaction_table import TransactionTable
from tests.support.pilot import all_time, manage_settled, open_manage, wait_for


async def open_all_time(app, pilot) -> ManageScreen:
    screen = await open_manage(app, pilot)
    await all_time(pilot, screen)
    return screen


async def enter_on_first(pilot, screen: ManageScreen, kind: TransactionType):
    table = screen.query_one(TransactionTable)
    row = next(i for i, item in enumerate(table.items) if item.transaction_type is kind)
    table.focus()
    table.move_cursor(row=row)
    await pilot.pause()
    await pilot.press("enter")
    return table.items[row]


def shown_text(dialog: ReceiptScreen) -> str:
    console = Console(width=120, file=io.StringIO())
    console.print(dialog.query_one("#receipt-fields").content)
    return console.file.getvalue()


async def test_enter_on_a_purchase_shows_its_receipt_and_saves_the_pdf(make_app, tmp_path):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_all_time(app, pilot)
        # The demo's latest card charges are auto-recharges: buy, so the newest row is a purchase.
        await app.api.purchase("25.00")
        await pilot.press("r")
        await wait_for(pilot, lambda: manage_settled(screen) and any(
            item.transaction_type is TransactionType.purchase for item in screen.query_one(TransactionTable).items))
        purchase = await enter_on_first(pilot, screen, TransactionType.purchase)
        await wait_for(pilot, lambda: isinstance(app.screen, ReceiptScreen) and app.screen.receipt is not None)
        dialog = app.screen
        receipt = await app.api.receipt(purchase.id)
        text = shown_text(dialog)
        assert receipt.number in text
        assert f"{receipt.amount_usd:,.2f} USD" in text
        assert receipt.card is not None and f"ending {receipt.card.last4}" in text
        assert receipt.account.name in text and purchase.description in text

        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportCsv))
        save = app.screen
        # A folder, or a folder nothing can be written to (/proc, even for root): said in place.
        for place, says in ((tmp_path, ".pdf"), (Path("/proc/receipt.pdf"), "cannot be written to")):
            save.query_one("#export-path", Input).value = str(place)
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is save
            assert says in str(save.query_one("#export-message").content)
            assert ".csv" not in str(save.query_one("#export-message").content)
        target = tmp_path / "receipt.pdf"
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: dialog.saved_to == target)
        assert app.screen is dialog
        pages = PdfReader(target).pages
        pdf_text = "".join(page.extract_text() for page in pages)
        assert f"{receipt.amount_usd:,.2f}" in pdf_text
        assert receipt.card.last4 in pdf_text
        assert not (tmp_path / "receipt.pdf.part").exists()

        await pilot.press("d")  # the transaction's every field stays one key away
        await wait_for(pilot, lambda: isinstance(app.screen, TransactionDetail))
        assert app.screen.item.id == purchase.id
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is dialog)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_a_usage_row_offers_no_receipt(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_all_time(app, pilot)
        usage = await enter_on_first(pilot, screen, TransactionType.usage)
        await wait_for(pilot, lambda: isinstance(app.screen, TransactionDetail))
        assert app.screen.item.id == usage.id
        await pilot.press("s")  # no receipt to save here
        await pilot.pause()
        assert isinstance(app.screen, TransactionDetail)
        with pytest.raises(errors.NotFoundError):  # nor has the server one
            await app.api.receipt(usage.id)


async def test_a_receipt_that_cannot_be_loaded_says_so_and_retries(make_app, monkeypatch):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_all_time(app, pilot)
        real = app.api.receipt

        async def down(transaction_id: int):
            raise errors.NetworkError("The server cannot be reached.")

        monkeypatch.setattr(app.api, "receipt", down)
        await enter_on_first(pilot, screen, TransactionType.auto_recharge)
        await wait_for(pilot, lambda: isinstance(app.screen, ReceiptScreen)
                       and "could not be loaded" in shown_text(app.screen))
        assert "The server cannot be reached." in shown_text(app.screen)
        monkeypatch.setattr(app.api, "receipt", real)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen.receipt is not None)
        assert app.screen.receipt.number in shown_text(app.screen)
