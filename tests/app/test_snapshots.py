"""How every screen looks, at 80x24 and 120x36, on a frozen clock and seeded data.

Review a changed snapshot in ``snapshot_report.html`` and accept it with
``python -m pytest tests/app/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import time_machine
from textual.widgets import DataTable, Input
from textual.widgets._footer import FooterKey

from credits_tui.screens.audit import AuditScreen
from credits_tui.screens.confirm_purchase import ConfirmPurchase
from credits_tui.screens.help import HelpScreen
from credits_tui.screens.no_access import NoAccessScreen
from credits_tui.screens.sign_in import SignInScreen
from credits_tui.screens.status import StatusScreen
from credits_tui.screens.transaction_detail import TransactionDetail
from credits_tui.widgets.warnings_bar import WarningsBar
from tests.support.pilot import open_billing, open_buy, open_form, open_manage, type_text, wait_for
from tests.support.pilot import settle as settle_manage

FROZEN = datetime(2026, 11, 15, 15, 30, tzinfo=timezone.utc)
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


@pytest.fixture
def clock() -> Iterator[datetime]:
    with time_machine.travel(FROZEN, tick=False):
        yield FROZEN


def warnings_in(pilot) -> bool:
    """The warnings line under the header has its answer; screens without one have nothing to wait for."""
    bars = [bar for screen in pilot.app.screen_stack for bar in screen.query(WarningsBar)]
    return all(bar.answered for bar in bars)


async def settle(pilot, condition) -> None:
    await wait_for(pilot, condition)
    # Apart, so that a wait that runs out says in its traceback which of the two never came.
    await wait_for(pilot, lambda: warnings_in(pilot) and condition())
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_status(snap_compare, make_app, size):
    async def loaded(pilot):
        await settle(pilot, lambda: isinstance(pilot.app.screen, StatusScreen)
                     and any(table.row_count > 0 for table in pilot.app.screen.query("#recent").results(DataTable))
                     and "credits/day" in str(pilot.app.screen.query_one("#runway").content))

    assert snap_compare(make_app(), terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", SIZES)
def test_sign_in(snap_compare, make_app, size):
    async def shown(pilot):
        await settle(pilot, lambda: isinstance(pilot.app.screen, SignInScreen))

    assert snap_compare(make_app(None), terminal_size=size, run_before=shown)


@pytest.mark.parametrize("size", SIZES)
def test_member_without_access(snap_compare, make_app, size):
    async def shown(pilot):
        await settle(pilot, lambda: isinstance(pilot.app.screen, NoAccessScreen))

    assert snap_compare(make_app("member@demo.example"), terminal_size=size, run_before=shown)


@pytest.mark.parametrize("size", SIZES)
def test_keys_help(snap_compare, make_app, size):
    async def shown(pilot):
        await settle(pilot, lambda: isinstance(pilot.app.screen, StatusScreen))
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))

    assert snap_compare(make_app(), terminal_size=size, run_before=shown)


@pytest.mark.parametrize("size", SIZES)
def test_billing(snap_compare, make_app, size):
    async def shown(pilot):
        await open_billing(pilot.app, pilot)
        await settle(pilot, lambda: True)

    assert snap_compare(make_app(section="billing"), terminal_size=size, run_before=shown)


@pytest.mark.parametrize("size", SIZES)
def test_card_form(snap_compare, make_app, size):
    async def shown(pilot):
        await open_billing(pilot.app, pilot)
        await open_form(pilot.app, pilot, "e")
        await settle(pilot, lambda: True)

    assert snap_compare(make_app(section="billing"), terminal_size=size, run_before=shown)


@pytest.mark.parametrize("size", SIZES)
def test_buy_with_an_amount_typed(snap_compare, make_app, size):
    async def typed(pilot):
        await open_buy(pilot.app, pilot)
        await type_text(pilot, "25")
        await settle(pilot, lambda: True)

    assert snap_compare(make_app(section="buy"), terminal_size=size, run_before=typed)


@pytest.mark.parametrize("size", SIZES)
def test_confirm_purchase(snap_compare, make_app, size):
    async def asked(pilot):
        await open_buy(pilot.app, pilot)
        await type_text(pilot, "25")
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmPurchase))

    assert snap_compare(make_app(section="buy"), terminal_size=size, run_before=asked)


@pytest.mark.parametrize("size", [*SIZES, pytest.param((60, 20), id="60x20")])
def test_manage(snap_compare, make_app, size):
    async def shown(pilot):
        screen = await open_manage(pilot.app, pilot)
        await settle_manage(pilot, screen)
        # The table takes the focus when its first page is in; the footer then offers its keys
        # (⏎ Details) on a later refresh, which a busy machine may not have drawn yet.
        await settle(pilot, lambda: screen.focused is screen.table
                     and any(key.description == "Open" for key in screen.query(FooterKey)))
        await pilot.pause(0.1)

    assert snap_compare(make_app(section="manage"), terminal_size=size, run_before=shown)


@pytest.mark.parametrize("size", SIZES)
def test_transaction_detail(snap_compare, make_app, size):
    async def shown(pilot):
        screen = await open_manage(pilot.app, pilot)
        await settle_manage(pilot, screen)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(pilot.app.screen, TransactionDetail))

    assert snap_compare(make_app(section="manage"), terminal_size=size, run_before=shown)


@pytest.mark.parametrize("size", SIZES)
def test_audit(snap_compare, make_app, size):
    async def shown(pilot):
        await settle(pilot, lambda: isinstance(pilot.app.screen, AuditScreen) and pilot.app.screen.settled
                     and pilot.app.screen.table.row_count > 0)

    assert snap_compare(make_app(section="audit"), terminal_size=size, run_before=shown)
