"""Warnings on Status and in the header of every section, each until its condition is resolved.

The conditions are made through the real backend in-process (usage, the declining test card,
the card's expiry) or, where no request makes them, in its database.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import delete, select, update

from credits_tui.api_client.models import (
    AutoRechargeUpdate,
    BillingAddress,
    CardInput,
    CardPatch,
    UsageRequest,
)
from credits_tui.backend.db.schema import Account, Card, QuotaUsage
from credits_tui.screens.billing import BillingScreen
from credits_tui.screens.buy import BuyScreen
from credits_tui.screens.status import StatusScreen
from credits_tui.warnings import WarningKind
from credits_tui.widgets.warnings_bar import WarningsBar, WarningsList
from tests.support.pilot import wait_for
from tests.support.transports import recording

THIS_YEAR = datetime.now(timezone.utc).year
ADDRESS = BillingAddress(line1="1 Demo Way", city="Chicago", region="IL", postal_code="60601", country="US")


def kinds(widget: WarningsBar | WarningsList) -> set[WarningKind]:
    return {warning.kind for warning in widget.warnings}


def status_list(app) -> WarningsList:
    return app.screen.query_one(WarningsList)


def header(app) -> WarningsBar:
    return app.screen.query_one(WarningsBar)


async def on_status(app, pilot) -> StatusScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.loaded)
    return app.screen


async def refresh_status(app, pilot, condition) -> None:
    """Press r on Status until ``condition`` holds for its warnings list."""
    await pilot.press("r")
    await wait_for(pilot, lambda: condition(kinds(status_list(app))), timeout=10)


LETTER = Decimal("3.50")  # a handwritten letter's price in credits (no free quota)


async def letters(app, quantity: int) -> None:
    """Handwritten letters (3.50 credits each), recorded as usage by the admin."""
    await app.api.record_usage(UsageRequest(process_type="handwritten_letter", quantity=quantity))


async def letters_down_to(app, balance: Decimal) -> Decimal:
    """Letters until less than one more would take the balance under ``balance``; the balance then.

    The demo's balance depends on when it was seeded (its history ends now, and the free quotas
    reset each month), so the number of letters is worked out from the balance of the moment.
    """
    before = (await app.api.status()).purchase_credits
    quantity = int((before - balance) // LETTER)
    assert quantity > 0, f"the demo's balance ({before}) is already under {balance}"
    await letters(app, quantity)
    return before - quantity * LETTER


def set_in_database(backend, statement) -> None:
    with backend.state.database.write() as session:
        account_id = session.scalar(select(Account.id).where(Account.name == "Demo Co."))
        session.execute(statement(account_id))


async def test_low_balance_warning_until_credits_are_added(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await on_status(app, pilot)
        assert not {WarningKind.balance_low, WarningKind.balance_negative} & kinds(status_list(app))
        # Auto-recharge off, so that nothing tops the balance up; then below the 250.00 of a low balance.
        await app.api.put_auto_recharge(AutoRechargeUpdate(enabled=False, threshold=Decimal("500"),
                                                           recharge_to=Decimal("2000")))
        balance = await letters_down_to(app, Decimal("200"))
        await refresh_status(app, pilot, lambda shown: WarningKind.balance_low in shown)
        text = str(status_list(app).content)
        assert f"{balance:,.2f}" in text and "250.00" in text and "Add credits or turn on auto-recharge." in text
        assert WarningKind.balance_low in kinds(header(app))
        assert "Balance low: Add credits or turn on auto-recharge." in str(header(app).content)

        # The header line says it on every section.
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, BuyScreen)
                       and WarningKind.balance_low in kinds(header(app)))
        assert header(app).display

        await app.api.purchase(Decimal("100.00"))
        await pilot.press("f1")  # back to Status (1 would be typed in the amount): it loads again
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen)
                       and WarningKind.balance_low not in kinds(status_list(app))
                       and WarningKind.balance_low not in kinds(header(app)))


async def test_negative_balance_warning(make_app, backend):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await on_status(app, pilot)
        # Post-paid use and invoices can leave the balance below zero; no request here does that.
        set_in_database(backend, lambda account: update(Account).where(Account.id == account)
                        .values(balance_cents=-1_250))
        await refresh_status(app, pilot, lambda shown: WarningKind.balance_negative in shown)
        assert "(-12.50 credits)" in str(status_list(app).content)
        assert WarningKind.balance_low not in kinds(status_list(app))  # one balance warning, not two
        set_in_database(backend, lambda account: update(Account).where(Account.id == account)
                        .values(balance_cents=100_000))
        await refresh_status(app, pilot, lambda shown: not {WarningKind.balance_negative,
                                                            WarningKind.balance_low} & shown)


async def test_auto_recharge_failing_then_off_after_three_failures_until_fixed(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await on_status(app, pilot)
        card = CardInput(cardholder_name="Ada Admin", number="4000000000000341", exp_month=12,
                         exp_year=THIS_YEAR + 2, cvc="123", billing_address=ADDRESS)
        await app.api.put_card(card)  # saves fine, every later charge is declined
        await letters_down_to(app, Decimal("400"))  # below the rule's 500: the recharge is declined
        await refresh_status(app, pilot, lambda shown: WarningKind.auto_recharge_failing in shown)
        assert "Update the card on Billing." in str(status_list(app).content)
        assert "Auto-recharge failing" in str(header(app).content)

        await letters(app, 1)
        await letters(app, 1)  # the third failure in a row turns the rule off
        await refresh_status(app, pilot, lambda shown: WarningKind.auto_recharge_off in shown)
        assert WarningKind.auto_recharge_failing not in kinds(status_list(app))
        assert "turned itself off after 3 failed charges" in str(status_list(app).content)

        # On Billing, the panel says the same; fixing the card and turning it on resolves it.
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, BillingScreen)
                       and WarningKind.auto_recharge_off in kinds(header(app)))
        await app.api.put_card(card.model_copy(update={"number": "4242424242424242"}))
        await app.api.put_auto_recharge(AutoRechargeUpdate(enabled=True, threshold=Decimal("100"),
                                                           recharge_to=Decimal("2000")))
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen)
                       and not {WarningKind.auto_recharge_off, WarningKind.auto_recharge_failing}
                       & (kinds(status_list(app)) | kinds(header(app))))


async def test_card_expiring_then_expired_until_updated(make_app, backend):
    app = make_app()
    now = datetime.now(timezone.utc)
    async with app.run_test(size=(80, 24)) as pilot:
        await on_status(app, pilot)
        await app.api.patch_card(CardPatch(exp_month=now.month, exp_year=now.year))  # ends this month
        await refresh_status(app, pilot, lambda shown: WarningKind.card_expiring in shown)
        assert f"expires at the end of {now.month:02d}/{now.year}" in str(status_list(app).content)

        set_in_database(backend, lambda account: update(Card).where(Card.account_id == account)
                        .values(exp_month=1, exp_year=now.year - 1))
        await refresh_status(app, pilot, lambda shown: WarningKind.card_expired in shown)
        assert WarningKind.card_expiring not in kinds(status_list(app))

        await app.api.patch_card(CardPatch(exp_month=12, exp_year=now.year + 3))
        await refresh_status(app, pilot, lambda shown: not {WarningKind.card_expired,
                                                            WarningKind.card_expiring} & shown)


async def test_used_up_free_quota_until_it_resets(make_app, backend):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await on_status(app, pilot)
        # The demo has used up both free quotas this month.
        await wait_for(pilot, lambda: WarningKind.quota_used_up in kinds(status_list(app)))
        text = str(status_list(app).content)
        assert "Social media append (1,000), Smart match (500)" in text
        set_in_database(backend, lambda account: delete(QuotaUsage).where(QuotaUsage.account_id == account))
        await refresh_status(app, pilot, lambda shown: WarningKind.quota_used_up not in shown)
        await wait_for(pilot, lambda: not header(app).warnings and not header(app).display)
        assert not status_list(app).display


async def test_the_header_line_asks_for_what_it_needs_side_by_side(make_app):
    # Status, alerts and prices: one after another they were three round trips for one line.
    app = make_app(section="buy")
    ordering = recording(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, BuyScreen) and header(app).answered)
    first_answer = ordering.events.index("answered /account/status")
    assert ordering.events.index("asked /billing/notifications") < first_answer
    assert ordering.events.index("asked /credits/prices") < first_answer
