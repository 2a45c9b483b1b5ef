"""Status: the balance, large; the account; the card on file; free quotas; 30 days of usage; recent activity."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timezone

from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Label, LoadingIndicator, ProgressBar, Static

from credits_tui.api_client import errors
from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import (
    AccountStatus,
    FreeQuota,
    NotificationSettings,
    PriceCatalog,
    TransactionPage,
    TransactionQuery,
)
from credits_tui.formatting import card_label, credits_text
from credits_tui.runway import runway_text, usage_window
from credits_tui.screens.base import CreditsScreen
from credits_tui.screens.notifications import NotificationsScreen
from credits_tui.screens.transaction_detail import TransactionDetail
from credits_tui.session import Session
from credits_tui.warnings import current_warnings
from credits_tui.widgets.money import BalanceDigits
from credits_tui.widgets.transaction_table import TransactionTable
from credits_tui.widgets.usage_chart import UsageChart
from credits_tui.widgets.warnings_bar import WarningsBar, WarningsList

RECENT = 8


async def first_look(api: CreditsClient) -> tuple[AccountStatus, PriceCatalog, TransactionPage,
                                                 NotificationSettings]:
    """Everything Status shows but the chart, asked side by side (one after another, they were
    most of the wait for the balance at start)."""
    return await asyncio.gather(api.status(), api.prices(), api.transactions(limit=RECENT),
                                api.notification_settings())


def quota_use(quota: FreeQuota) -> str:
    return f"{quota.used:,} of {quota.limit:,} · resets {quota.resets_at:%b %d}"


class StatusScreen(CreditsScreen):
    SECTION = "status"
    HANDS_WARNINGS = True
    CSS_PATH = "status.tcss"
    BINDINGS = [Binding("n", "notifications", "Notifications")]

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.loaded = False  # once figures are shown, a refresh keeps them until the new ones arrive
        self._labels: dict[str, str] = {}

    def compose_body(self) -> Iterable[Widget]:
        with VerticalScroll(id="status-body"):
            yield WarningsList(id="status-warnings")
            with Horizontal(id="top"):
                with Vertical(id="balance-box"):
                    with Horizontal(id="balance-caption"):
                        yield Label("Purchase Credits (1 credit = 1.00 USD)", classes="caption")
                        yield LoadingIndicator(id="status-refreshing")
                    yield BalanceDigits("", id="balance")
                    yield Static("", id="account", markup=False)
                with Vertical(id="card-box"):
                    yield Label("Card on file", classes="caption")
                    yield Static("", id="card", markup=False)
            yield Label("Free monthly quotas", classes="caption")
            yield Vertical(id="quotas")
            yield Static("", id="runway", markup=False)
            yield UsageChart("Credits used", id="usage-chart")
            yield Label("Recent activity", classes="caption")
            yield TransactionTable(id="recent")

    @property
    def refreshing(self) -> bool:
        """True while new figures are on their way and the old ones stay shown."""
        return self.has_class("-refreshing")

    def reload(self) -> None:
        # The first load shows a loading body; a refresh keeps the figures, with a small spinner.
        self.query_one("#status-body").loading = not self.loaded
        self.set_class(self.loaded, "-refreshing")
        self.load()

    @classmethod
    def ask_ahead(cls, session: Session) -> None:
        # At start the figures travel while the screen composes: the balance shows 25–60 ms sooner.
        session.ask_ahead(cls.SECTION, first_look(session.client))

    @work(exclusive=True, group="status", exit_on_error=False)
    async def load(self) -> None:
        early = self.session.take_ahead(self.SECTION)
        result = await self.call_api(lambda api: early if early is not None else first_look(api))
        self.query_one("#status-body").loading = False
        self.remove_class("-refreshing")
        if isinstance(result, errors.ApiError):
            return
        status, prices, recent, alerts = result
        self.show(status, prices, recent, alerts)
        self.loaded = True
        # The chart (plotext: its import and its drawing) is the slowest part of Status: the
        # balance is painted first, then the chart is asked for and drawn.
        self.call_after_refresh(self.load_usage, status)

    @work(exclusive=True, group="status-usage", exit_on_error=False)
    async def load_usage(self, status: AccountStatus) -> None:
        """The chart and the runway line (a failure here leaves the rest of Status shown)."""
        now = datetime.now(timezone.utc)
        first, since = usage_window(now)
        usage = await self.call_api(lambda api: api.daily_usage(TransactionQuery(since=since)), show_errors=False)
        chart = self.query_one("#usage-chart", UsageChart)
        if isinstance(usage, errors.ApiError):
            chart.show_failure(f"Usage could not be loaded: {usage.message} (r to retry)")
            return
        chart.show(usage, self._labels, first, now.date())
        self.query_one("#runway", Static).update(runway_text(status, usage))

    def show(self, status: AccountStatus, prices: PriceCatalog, recent: TransactionPage,
             alerts: NotificationSettings) -> None:
        self.query_one("#balance", BalanceDigits).show_amount(status.purchase_credits)
        # The digits are drawn with box characters: say the figure in words too (screen readers, copy).
        self.query_one("#account", Static).update(
            f"{credits_text(status.purchase_credits)} credits · {status.account.name}")
        card = status.card_on_file
        self.query_one("#card", Static).update(
            f"{card_label(card.brand, card.last4)}\nExpires {card.exp_month:02d}/{card.exp_year}\n"
            f"{card.cardholder_name}" if card else "No card on file.\nAdd one on Billing (2) to buy credits.")
        labels = self._labels = {p.process_type: p.label for p in prices.items}
        self.show_quotas(status, labels)
        self.query_one("#recent", TransactionTable).show_page(recent.items, labels)
        warnings = current_warnings(status, alerts, datetime.now(timezone.utc), labels)
        self.query_one(WarningsList).show(warnings)
        self.query_one(WarningsBar).show(warnings)

    def show_quotas(self, status: AccountStatus, labels: dict[str, str]) -> None:
        quotas = self.query_one("#quotas", Vertical)
        shown = list(quotas.query(".quota").results(Horizontal))
        if [row.name for row in shown] == [quota.process_type for quota in status.free_quotas] and shown:
            # The same quotas: update them in place, so a refresh does not blink.
            for row, quota in zip(shown, status.free_quotas, strict=True):
                row.query_one(ProgressBar).update(total=quota.limit, progress=quota.used)
                row.query_one(".quota-use", Static).update(quota_use(quota))
            return
        quotas.remove_children()
        rows: list[Widget] = []
        for quota in status.free_quotas:
            bar = ProgressBar(total=quota.limit, show_eta=False, show_percentage=False)
            bar.progress = quota.used
            rows.append(Horizontal(
                Static(labels.get(quota.process_type, quota.process_type), classes="quota-label", markup=False),
                bar,
                Static(quota_use(quota), classes="quota-use", markup=False),
                classes="quota", name=quota.process_type))
        if not rows:
            rows.append(Static("No process type has a free quota.", markup=False))
        quotas.mount_all(rows)

    @on(DataTable.RowSelected, "#recent")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        item = self.query_one("#recent", TransactionTable).transaction(event.row_key.value)
        if item is not None:
            self.app.push_screen(TransactionDetail(item, self._labels.get(item.process_type or "")))

    def action_notifications(self) -> None:
        self.app.push_screen(NotificationsScreen(self.call_api))

    def section_commands(self) -> Iterable[SystemCommand]:
        yield from super().section_commands()
        yield SystemCommand("Notifications", "What the account was told by email, newest first",
                            self.action_notifications)
