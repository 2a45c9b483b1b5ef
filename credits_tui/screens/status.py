"""Status: the balance, large; the account; the card on file; free quotas; recent activity."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import work
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Label, ProgressBar, Static

from credits_tui.api_client import errors
from credits_tui.api_client.models import AccountStatus, PriceCatalog, TransactionPage
from credits_tui.formatting import credits_text
from credits_tui.screens.base import CreditsScreen
from credits_tui.widgets.money import BalanceDigits

RECENT = 8


class StatusScreen(CreditsScreen):
    CSS_PATH = "status.tcss"

    def compose_body(self) -> Iterable[Widget]:
        with VerticalScroll(id="status-body"):
            with Horizontal(id="top"):
                with Vertical(id="balance-box"):
                    yield Label("Purchase Credits (1 credit = 1.00 USD)", classes="caption")
                    yield BalanceDigits("", id="balance")
                    yield Static("", id="account", markup=False)
                with Vertical(id="card-box"):
                    yield Label("Card on file", classes="caption")
                    yield Static("", id="card", markup=False)
            yield Label("Free monthly quotas", classes="caption")
            yield Vertical(id="quotas")
            yield Label("Recent activity", classes="caption")
            yield DataTable(id="recent", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#recent", DataTable)
        table.add_columns("Time (UTC)", "Type", "User", "Amount", "Balance", "Description")

    def reload(self) -> None:
        self.query_one("#status-body").loading = True
        self.load()

    @work(exclusive=True, group="status", exit_on_error=False)
    async def load(self) -> None:
        async def fetch(api):
            return await api.status(), await api.prices(), await api.transactions(limit=RECENT)

        result = await self.call_api(fetch)
        self.query_one("#status-body").loading = False
        if isinstance(result, errors.ApiError):
            return
        status, prices, recent = result
        self.show(status, prices, recent)

    def show(self, status: AccountStatus, prices: PriceCatalog, recent: TransactionPage) -> None:
        self.query_one("#balance", BalanceDigits).show_amount(status.purchase_credits)
        # The digits are drawn with box characters: say the figure in words too (screen readers, copy).
        self.query_one("#account", Static).update(
            f"{credits_text(status.purchase_credits)} credits · {status.account.name}")
        card = status.card_on_file
        self.query_one("#card", Static).update(
            f"{card.brand.title()} ending {card.last4}\nExpires {card.exp_month:02d}/{card.exp_year}\n"
            f"{card.cardholder_name}" if card else "No card on file.\nAdd one on Billing (2) to buy credits.")
        labels = {p.process_type: p.label for p in prices.items}
        quotas = self.query_one("#quotas", Vertical)
        quotas.remove_children()
        rows = []
        for quota in status.free_quotas:
            bar = ProgressBar(total=quota.limit, show_eta=False, show_percentage=False)
            bar.progress = quota.used
            rows.append(Horizontal(
                Static(labels.get(quota.process_type, quota.process_type), classes="quota-label", markup=False),
                bar,
                Static(f"{quota.used:,} of {quota.limit:,} · resets {quota.resets_at:%b %d}", classes="quota-use",
                       markup=False),
                classes="quota"))
        if not rows:
            rows.append(Static("No process type has a free quota.", markup=False))
        quotas.mount_all(rows)
        table = self.query_one("#recent", DataTable)
        table.clear()
        for item in recent.items:
            table.add_row(
                item.created_at.strftime("%Y-%m-%d %H:%M"), item.transaction_type.value.replace("_", " "),
                Text(item.user.name if item.user else "—"),
                Text(credits_text(item.amount, signed=True), style="green" if item.amount > 0 else "red",
                     justify="right"),
                Text(credits_text(item.balance_after), justify="right"),
                Text(item.description),
            )
