"""The Audit section: an admin reads who did what, newest first, filters and pages it; support
staff are told they cannot, once, without a table."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.widgets import OptionList

from credits_tui.api_client.client import CreditsClient
from credits_tui.api_client.models import AuditAction, AuditQuery
from credits_tui.screens.audit import REFUSED, AuditScreen
from credits_tui.screens.audit_detail import AuditDetail
from credits_tui.screens.confirm_purchase import ConfirmPurchase
from credits_tui.widgets.section_tabs import SectionTabs
from tests.support.pilot import open_buy, text_of, type_text, wait_for

ADMIN = "admin@demo.example"


async def open_audit(app, pilot, key: str = "f5") -> AuditScreen:
    await wait_for(pilot, lambda: app.current_mode == "status")
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen) and app.screen.settled)
    return app.screen


def ids(events) -> list[int]:
    return [event.id for event in events]


async def test_f5_and_5_open_audit_and_the_tab_bar_marks_it(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for key in ("f5", "5"):
            screen = await open_audit(app, pilot, key)
            tabs = screen.query_one(SectionTabs)
            assert tabs.active == "section-audit"
            assert tabs.active_tab is not None and str(tabs.active_tab.label) == "5 Audit"
            assert tabs.active_tab.region.right <= 80
            await pilot.press("1")


async def test_the_admin_sees_the_log_newest_first_within_80_columns(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(app, pilot)
        table = screen.table
        expected = await app.api.audit(screen.current_query, limit=screen.page_size)
        assert expected.items and ids(table.events) == ids(expected.items)
        times = [event.at for event in table.events]
        assert times == sorted(times, reverse=True)
        # The newest row is this test's own sign-in, by the admin.
        top = table.events[0]
        assert (top.action, top.actor.email if top.actor else None) == (AuditAction.sign_in, ADMIN)
        # Every column is in the table at 80 columns, beside a scrollbar; the detail is cut, with an ellipsis.
        right = table.region.x + sum(column.get_render_width(table) for column in table.columns.values())
        assert right <= table.region.right - table.styles.scrollbar_size_vertical
        first_row = table.render_line(1).text  # below the header
        assert first_row.startswith(f" {top.at:%Y-%m-%d %H:%M}") and first_row.rstrip().endswith("…")
        assert table.get_row_at(0)[2].plain == "Sign-in"


async def test_a_purchase_in_buy_is_at_the_top_of_audit_and_the_action_filter_narrows(make_app):
    app = make_app(section="buy")
    async with app.run_test(size=(120, 36)) as pilot:
        buy = await open_buy(app, pilot)
        await type_text(pilot, "7")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPurchase))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Bought 7.00 credits" in text_of(buy, "#outcome"))
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen) and app.screen.settled)
        screen = app.screen
        await pilot.press("r")
        await pilot.pause()
        await wait_for(pilot, lambda: screen.settled)
        top = screen.table.events[0]
        assert top.action == AuditAction.purchase_create
        assert top.actor is not None and top.actor.email == ADMIN
        assert top.detail["amount"] == "7.00"
        assert screen.table.get_row_at(0)[2].plain == "Purchase"

        everything = len(screen.table.events)
        screen.query_one("#audit-action").value = AuditAction.purchase_create.value
        await wait_for(pilot, lambda: screen.current_query is not None and screen.current_query.action
                       and screen.settled)
        shown = screen.table.events
        expected = await app.api.audit(AuditQuery(action=[AuditAction.purchase_create]), limit=screen.page_size)
        assert ids(shown) == ids(expected.items)
        assert {event.action for event in shown} == {"purchase.create"} and len(shown) < everything
        assert shown[0].id == top.id


async def test_enter_shows_the_whole_event(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(app, pilot)
        event = screen.table.events[0]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AuditDetail))
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(app.screen.query_one("#audit-detail-fields").content)
        shown = console.export_text()
        assert ADMIN in shown and f"#{event.id}" in shown and (event.ip or "—") in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_support_is_told_the_log_is_for_administrators(make_app, monkeypatch):
    asked: list[AuditQuery | None] = []
    audit = CreditsClient.audit

    async def counted(self, query=None, **kwargs):
        asked.append(query)
        return await audit(self, query, **kwargs)

    monkeypatch.setattr(CreditsClient, "audit", counted)
    app = make_app("support@demo.example")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(app, pilot)
        await wait_for(pilot, lambda: screen.refused)
        await pilot.pause(1.0)
        assert len(asked) == 1  # asked once, not again and again
        refusal = screen.query_one("#audit-refused")
        assert str(refusal.content) == REFUSED and refusal.region.height > 0
        assert screen.table.row_count == 0 and screen.table.region.height == 0
        assert screen.query_one("#audit-filters").region.height == 0
        assert screen.error_banner.visible_message is None  # no retry offered
        assert screen.query_one(SectionTabs).active == "section-audit"


async def test_paging_forward_and_back(make_app, monkeypatch):
    monkeypatch.setattr(AuditScreen, "page_size", 10)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_audit(app, pilot)
        query = screen.current_query
        first = await app.api.audit(query, limit=10)
        second = await app.api.audit(query, limit=10, cursor=first.next_cursor)
        assert ids(screen.table.events) == ids(first.items)
        assert "n next" in screen.page_info and "p previous" not in screen.page_info
        await pilot.press("n")
        await wait_for(pilot, lambda: screen.page_index == 1 and screen.settled)
        assert ids(screen.table.events) == ids(second.items)
        assert screen.page_info.startswith("events 11–20") and "p previous" in screen.page_info
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.page_index == 0 and screen.settled)
        assert ids(screen.table.events) == ids(first.items)


@pytest.mark.parametrize("width", [80, 120, 200])
def test_columns_fit_the_width(width):
    from credits_tui.widgets.audit_table import COLUMNS, column_widths

    widths = column_widths(width)
    assert set(widths) == {key for key, _ in COLUMNS}
    assert sum(widths.values()) + 2 * len(COLUMNS) <= width
    assert widths["detail"] >= 9


async def test_the_actor_filter_lists_the_users_and_narrows_to_one(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_audit(app, pilot)
        users = (await app.api.users()).items
        actor = screen.query_one("#audit-actor")
        await wait_for(pilot, lambda: actor.query_one(OptionList).option_count == len(users) + 1)
        someone = next(user for user in users if user.email != ADMIN and any(
            event.actor and event.actor.email == user.email for event in screen.table.events))
        actor.value = someone.email
        await wait_for(pilot, lambda: screen.current_query is not None and screen.current_query.actor == someone.email
                       and screen.settled)
        expected = await app.api.audit(AuditQuery(actor=someone.email), limit=screen.page_size)
        assert ids(screen.table.events) == ids(expected.items)
        assert {event.actor.email for event in screen.table.events if event.actor} == {someone.email}
