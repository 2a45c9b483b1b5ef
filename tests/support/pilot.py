"""Driving the app as a person would, shared by the app test modules: waiting for a screen,
opening a section by its key, typing, signing in. The app fixtures are in tests/app/conftest.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal

from textual.css.query import NoMatches
from textual.widgets import Input, Select, Static

from credits_tui.api_client.models import TransactionQuery, TransactionType
from credits_tui.screens.billing import BillingScreen
from credits_tui.screens.buy import BuyScreen
from credits_tui.screens.card_form import CardFormScreen
from credits_tui.screens.manage import ManageScreen
from credits_tui.screens.sign_in import SignInScreen
from credits_tui.sections import section_for
from credits_tui.timeframes import ALL_TIME
from credits_tui.widgets.card_form import CardForm

SERVER = "http://credits.test"
NEXT_YEAR = str(datetime.now(timezone.utc).year + 2)
PURCHASES = TransactionQuery(transaction_type=[TransactionType.purchase])


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app and its workers run until ``condition`` holds (fails the test after ``timeout``
    seconds: only a failing test waits that long, so it is generous for a machine busy with other
    test workers). A widget looked for that is not mounted yet is one more thing not there yet.

    The app runs on this event loop, so a plain sleep is all it needs to go on between checks.
    ``pilot.pause`` hands a callback to every widget of the screen, lays it out and paints it
    (tests/app/conftest.py), ~7 ms of CPU or more each time: it comes every quarter of a second
    (as a person's next key would), and at the end, so that a click lands where the widgets are
    and what the test looks at has been drawn.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    next_pause = loop.time() + 0.25
    while not _holds(condition):
        assert loop.time() < deadline, (f"the app did not get there in time: on {type(pilot.app.screen).__name__}, "
                                        f"{_visible_problems(pilot.app.screen)}, notices {notifications(pilot.app)}")
        await asyncio.sleep(0.01)
        if loop.time() >= next_pause:
            await pilot.pause()
            next_pause = loop.time() + 0.25
    await pilot.pause()


def _holds(condition: Callable[[], bool]) -> bool:
    """A widget the condition looks for that is not there yet (a screen shown but not composed
    yet, on a busy machine) is a condition that does not hold yet."""
    try:
        return condition()
    except NoMatches:
        return False


async def type_text(pilot, text: str) -> None:
    for character in text:
        await pilot.press(character)


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


def _visible_problems(screen) -> list[str]:
    """What the screen says is wrong (a failed wait reports it)."""
    said = screen.query("#problem, #card-problem, .-error, ErrorBanner Static").results(Static)
    return [str(widget.content) for widget in said if widget.display and str(widget.content)]


# --- signing in -------------------------------------------------------------------------------


async def type_into(pilot, selector: str, text: str) -> None:
    """Click the field and type: once it is laid out, or a busy machine's click lands elsewhere."""
    field = pilot.app.screen.query_one(selector, Input)
    await wait_for(pilot, lambda: field.region.area > 0)
    await pilot.click(selector)
    for character in text:
        await pilot.press(character)
    assert field.value.endswith(text), f"{text!r} did not reach {selector}"


async def sign_in(pilot, email: str, password: str) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, SignInScreen)
    screen.query_one("#server", Input).value = SERVER
    screen.query_one("#email", Input).value = ""
    await type_into(pilot, "#email", email)
    await type_into(pilot, "#password", password)
    await pilot.press("enter")


# --- sections ---------------------------------------------------------------------------------


async def open_section(app, pilot, mode: str) -> None:
    """Show the section ``mode``: an app opened at it (``make_app(section=...)``) is there once
    signed in; from Status, its number is pressed as a person would."""
    await wait_for(pilot, lambda: app.current_mode in ("status", mode))
    if app.current_mode != mode:
        section = section_for(mode)
        assert section is not None
        await pilot.press(str(section.number))
    await wait_for(pilot, lambda: app.current_mode == mode and app.screen.is_mounted)  # composed


# --- Buy Credits ------------------------------------------------------------------------------


async def open_buy(app, pilot) -> BuyScreen:
    """Show Buy Credits and wait for the account to load."""
    await open_section(app, pilot, "buy")
    await wait_for(pilot, lambda: isinstance(app.screen, BuyScreen) and app.screen._status is not None)
    return app.screen


async def balance(app) -> Decimal:
    return (await app.api.status()).purchase_credits


async def purchase_count(app) -> int:
    return (await app.api.summary(PURCHASES)).count


# --- Billing ----------------------------------------------------------------------------------


async def open_billing(app, pilot) -> BillingScreen:
    """Show Billing and wait for the card and invoices to load."""
    await open_section(app, pilot, "billing")
    await wait_for(pilot, lambda: isinstance(app.screen, BillingScreen) and app.screen.loaded)
    return app.screen


async def open_form(app, pilot, key: str) -> CardForm:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, CardFormScreen))
    return app.screen.form


async def fill_new_card(pilot, number: str, month: str = "12", year: str = NEXT_YEAR, cvc: str = "123") -> None:
    """From the number field of a replace form: number, expiry and CVC (name and address are kept)."""
    await pilot.press(*number, "tab", *month, "tab", *year, "tab", *cvc)


# --- Manage Credits ---------------------------------------------------------------------------


def manage_settled(screen) -> bool:
    """Manage Credits shows what its filters say: no typing waits for a pause, the page and the
    totals are in (the public state of its filter bar and pager, and its ``summary``)."""
    return not screen.filter_bar.pending and not screen.pager.fetching and screen.summary is not None


async def open_manage(app, pilot) -> ManageScreen:
    await open_section(app, pilot, "manage")
    await wait_for(pilot, lambda: isinstance(app.screen, ManageScreen) and manage_settled(app.screen)
                   and app.screen.filter_bar.choices_loaded)
    return app.screen


async def settle(pilot, screen: ManageScreen) -> None:
    await pilot.pause()
    await wait_for(pilot, lambda: manage_settled(screen))


async def choose(pilot, screen: ManageScreen, selector: str, value: str) -> None:
    screen.query_one(selector, Select).value = value
    await settle(pilot, screen)


async def all_time(pilot, screen: ManageScreen) -> None:
    screen.time_frame.set_frame(ALL_TIME)
    await settle(pilot, screen)
