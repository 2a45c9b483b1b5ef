"""Billing: the card on file (add, edit, replace; removal goes through accounting) and the
past invoices of post-paid transcription, with the lines of the highlighted one.

Support staff see the same, read-only. Nothing the server sends is read as markup.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, DataTable, Label, Static

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import CardSummary, Invoice, InvoiceList, InvoiceStatus
from credits_tui.formatting import card_label, credits_text
from credits_tui.screens.base import CreditsScreen
from credits_tui.screens.card_form import CardFormScreen, Mode
from credits_tui.session import Session
from credits_tui.widgets.alerts_panel import AlertsPanel
from credits_tui.widgets.auto_recharge_panel import AutoRechargePanel
from credits_tui.widgets.warnings_bar import WarningsBar

NO_CARD = "No card on file."
READ_ONLY_NOTE = ("Only administrators can change billing. You can see the card on file and the past "
                  "invoices.")
NO_INVOICES = ("No invoices yet. Transcription used beyond the balance is invoiced at month close and "
               "charged to the card on file.")
ACTIONS = ("add", "edit", "replace", "remove")


def card_text(card: CardSummary) -> Text:
    """The card on file, never more of its number than the last four digits."""
    address = card.billing_address
    text = Text()
    text.append(card_label(card.brand, card.last4), style="bold")
    text.append(f" · Expires {card.exp_month:02d}/{card.exp_year}\n")
    text.append(f"{card.cardholder_name}\n")
    text.append(", ".join(part for part in (address.line1, address.line2) if part) + "\n")
    place = ", ".join(part for part in (address.city, address.region) if part)
    text.append(f"{place} {address.postal_code} · {address.country.upper()}")
    return text


def status_text(invoice: Invoice) -> Text:
    if invoice.status is InvoiceStatus.paid:
        return Text("Paid", style="green")
    return Text("Payment failed", style="bold red")


class BillingScreen(CreditsScreen):
    SECTION = "billing"
    CSS_PATH = "billing.tcss"
    AUTO_FOCUS = None  # focus goes to the first action once the card is loaded (see show_card)
    BINDINGS = [
        Binding("a", "card_form('add')", "Add card"),
        Binding("e", "card_form('edit')", "Edit card"),
        Binding("c", "card_form('replace')", "Replace card"),
        Binding("x", "remove_card", "Remove card"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.card: CardSummary | None = None
        self.invoices: list[Invoice] = []
        self.loaded = False

    def compose_body(self) -> Iterable[Widget]:
        with VerticalScroll(id="billing-body"):
            with Vertical(id="billing-card-box"):
                yield Label("Card on file", classes="caption")
                yield Static("Loading…", id="billing-card", markup=False)
                with Horizontal(id="billing-actions"):
                    yield Button("Add Credit Card", variant="primary", id="card-add")
                    yield Button("Edit Card", variant="primary", id="card-edit")
                    yield Button("Replace Card", id="card-replace")
                    yield Button("Remove Card…", variant="warning", id="card-remove")
                yield Static("", id="billing-role-note", markup=False)
                yield Static("", id="billing-removal-note", markup=False)
            yield Label("Past Invoices", classes="caption", id="billing-invoices-caption")
            yield Static(NO_INVOICES, id="billing-invoices-empty", markup=False)
            yield DataTable(id="billing-invoices", cursor_type="row", zebra_stripes=True)
            with Vertical(id="billing-invoice-detail"):
                yield Label("", id="billing-lines-caption", classes="caption", markup=False)
                yield Static("", id="billing-lines")
            yield AutoRechargePanel(editable=self.is_admin, id="billing-auto-recharge")
            yield AlertsPanel(editable=self.is_admin, id="billing-alerts")

    def on_mount(self) -> None:
        table = self.query_one("#billing-invoices", DataTable)
        table.add_column("Period", key="period")
        table.add_column("Amount (USD)", key="amount")
        table.add_column("Status", key="status")
        table.add_column("Card", key="card")
        table.add_column("Paid (UTC)", key="paid")
        for button in self.query("#billing-actions Button"):
            button.display = False
        self.query_one("#billing-invoices-empty").display = False
        self.query_one("#billing-invoice-detail").display = False
        self.query_one("#billing-role-note").display = False
        self.query_one("#billing-removal-note").display = False

    # --- who may do what ------------------------------------------------------------------

    @property
    def is_admin(self) -> bool:
        return self.session.is_admin

    def may(self, action: str) -> bool:
        """Whether ``action`` (add, edit, replace, remove) is offered now."""
        if not self.loaded or not self.is_admin:
            return False
        return self.card is None if action == "add" else self.card is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "card_form":
            return self.may(str(parameters[0]) if parameters else "add")
        if action == "remove_card":
            return self.may("remove")
        return True

    def section_commands(self) -> Iterable[SystemCommand]:
        yield from super().section_commands()
        if self.may("add"):
            yield SystemCommand("Add Credit Card", "Put a card on file to buy credits",
                                lambda: self.run_action("card_form('add')"))
        if self.may("edit"):
            yield SystemCommand("Edit Card", "Change the name, expiry or billing address of the card on file",
                                lambda: self.run_action("card_form('edit')"))
            yield SystemCommand("Replace Card", "Put a different card on file",
                                lambda: self.run_action("card_form('replace')"))
            yield SystemCommand("Remove Card", "How to remove the card on file",
                                lambda: self.run_action("remove_card"))

    # --- loading ----------------------------------------------------------------------------

    def on_screen_suspend(self) -> None:
        # The answer to a removal was for that moment: coming back starts clean.
        note = self.query_one("#billing-removal-note", Static)
        note.update("")
        note.display = False

    def reload(self) -> None:
        self.query_one("#billing-body").loading = not self.loaded
        self.load()
        self.query_one(AutoRechargePanel).load()
        self.query_one(AlertsPanel).load()

    @work(exclusive=True, group="billing", exit_on_error=False)
    async def load(self) -> None:
        async def fetch(api: CreditsClient) -> tuple[CardSummary | None, InvoiceList]:
            return await api.card(), await api.invoices()

        result = await self.call_api(fetch)
        self.query_one("#billing-body").loading = False
        if isinstance(result, errors.ApiError):
            if not self.loaded:
                self.query_one("#billing-card", Static).update("The card on file could not be loaded.")
            return
        card, invoices = result
        self.show_card(card)
        self.show_invoices(invoices)
        self._settle_focus()

    def show_card(self, card: CardSummary | None) -> None:
        self.card = card
        self.loaded = True
        self.query_one("#billing-card", Static).update(card_text(card) if card else Text(NO_CARD, style="bold"))
        admin = self.is_admin
        for action in ACTIONS:
            self.query_one(f"#card-{action}", Button).display = self.may(action)
        note = self.query_one("#billing-role-note", Static)
        note.display = not admin
        note.update("" if admin else READ_ONLY_NOTE)
        if card is None:
            self.query_one("#billing-removal-note").display = False
        self.refresh_bindings()
        self._settle_focus()

    def _settle_focus(self) -> None:
        """Keep the focus where it was; if that went away, on the first action (or the invoices)."""
        focused = self.focused
        if focused is not None and focused.display and focused in self.focus_chain:
            return
        first = next((b for b in self.query("#billing-actions Button") if b.display), None)
        table = self.query_one("#billing-invoices", DataTable)
        target = first or (table if table.display else None)
        if target is not None:
            target.focus()

    def show_invoices(self, invoices: InvoiceList) -> None:
        table = self.query_one("#billing-invoices", DataTable)
        highlighted = self._highlighted_key()  # the same invoice stays highlighted after a reload
        self.invoices = list(invoices.items)
        table.clear()
        for invoice in self.invoices:
            table.add_row(
                Text(invoice.period),
                Text(credits_text(invoice.amount), justify="right"),
                status_text(invoice),
                Text(f"•••• {invoice.card_last4}" if invoice.card_last4 else "—"),
                Text(invoice.paid_at.strftime("%Y-%m-%d") if invoice.paid_at else "—"),
                key=str(invoice.id),
            )
        has_any = bool(self.invoices)
        table.display = has_any
        self.query_one("#billing-invoices-empty").display = not has_any
        self.query_one("#billing-invoice-detail").display = has_any
        if has_any:
            keys = [str(invoice.id) for invoice in self.invoices]
            table.move_cursor(row=keys.index(highlighted) if highlighted in keys else 0)
            self.show_lines(self._invoice_at(table.cursor_row))

    def _highlighted_key(self) -> str | None:
        table = self.query_one("#billing-invoices", DataTable)
        if not table.row_count:
            return None
        invoice = self._invoice_at(table.cursor_row)
        return str(invoice.id) if invoice else None

    def _invoice_at(self, row: int) -> Invoice | None:
        return self.invoices[row] if 0 <= row < len(self.invoices) else None

    def show_lines(self, invoice: Invoice | None) -> None:
        caption = self.query_one("#billing-lines-caption", Label)
        lines = self.query_one("#billing-lines", Static)
        if invoice is None:
            caption.update("")
            lines.update("")
            return
        caption.update(f"Invoice {invoice.period} · lines")
        table = Table(box=None, show_header=True, header_style="bold", padding=(0, 2, 0, 0), expand=False)
        table.add_column("Description")
        table.add_column("Quantity", justify="right")
        table.add_column("Amount (USD)", justify="right")
        for line in invoice.lines:
            table.add_row(Text(line.description), Text(f"{line.quantity:,}"), Text(credits_text(line.amount)))
        table.add_row(Text("Total", style="bold"), Text(""), Text(credits_text(invoice.amount), style="bold"))
        if invoice.status is InvoiceStatus.payment_failed:
            why = invoice.failure_message or "The charge to the card failed."
            lines.update(Group(Text(f"Payment failed: {why}", style="red"), table))
        else:
            lines.update(table)

    @on(DataTable.RowHighlighted, "#billing-invoices")
    def _invoice_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_lines(self._invoice_at(event.cursor_row))
        if event.data_table.has_focus:
            # On a short terminal, moving through the invoices keeps their lines in view.
            self.call_after_refresh(self._invoices_in_view)

    def _invoices_in_view(self) -> None:
        body = self.query_one("#billing-body", VerticalScroll)
        body.scroll_to_widget(self.query_one("#billing-invoices-caption"), top=True, animate=False)

    @on(DataTable.RowSelected, "#billing-invoices")
    def _invoice_selected(self, event: DataTable.RowSelected) -> None:
        # Enter: bring the highlighted invoice's lines into view.
        self.show_lines(self._invoice_at(event.cursor_row))
        self._invoices_in_view()

    @on(AutoRechargePanel.Saved)
    @on(AlertsPanel.Saved)
    def _settings_saved(self) -> None:
        self.query_one(WarningsBar).refresh_warnings()

    # --- the card: add, edit, replace, remove --------------------------------------------------

    @on(Button.Pressed, "#billing-actions Button")
    def _card_button(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "card-remove":
            self.action_remove_card()
        elif event.button.id in ("card-add", "card-edit", "card-replace"):
            self.action_card_form(event.button.id.removeprefix("card-"))

    def action_card_form(self, mode: str) -> None:
        if not self.may(mode):
            return
        form_mode: Mode = mode  # type: ignore[assignment]
        self.app.push_screen(CardFormScreen(self.call_api, form_mode, self.card if mode != "add" else None),
                             callback=self._card_saved)

    def _card_saved(self, card: CardSummary | None) -> None:
        if card is None:
            return
        self.show_card(card)
        self.notify(f"{card_label(card.brand, card.last4)} saved.", title="Billing", markup=False)
        self.reload()

    def action_remove_card(self) -> None:
        if self.may("remove"):
            self.remove_card()

    @work(exclusive=True, group="remove-card", exit_on_error=False)
    async def remove_card(self) -> None:
        button = self.query_one("#card-remove", Button)
        note = self.query_one("#billing-removal-note", Static)
        button.disabled = True
        try:
            result = await self.call_api(lambda api: api.remove_card(), show_errors=False)
        finally:
            button.disabled = False
        if isinstance(result, errors.AuthenticationError):
            return
        if isinstance(result, errors.ApiError):
            # The product's answer (contact accounting) stays on screen, where it can be read.
            note.update(Text(result.message))
            note.display = True
            note.scroll_visible()
            return
        self.notify("The card on file was removed.", title="Billing", markup=False)
        self.reload()


__all__ = ["BillingScreen", "card_text"]
