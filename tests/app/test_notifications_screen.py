"""The notifications list, from Status (n) or the palette: newest first, paged, a body on Enter."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from credits_tui.screens.notifications import NotificationsScreen
from credits_tui.screens.status import StatusScreen
from tests.support.pilot import wait_for


async def open_list(app, pilot) -> NotificationsScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.loaded)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NotificationsScreen) and app.screen.loaded)
    return app.screen


async def test_newest_first_with_its_body_on_enter(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(app, pilot)
        newest = (await app.api.notifications(limit=1)).items[0]
        table = screen.query_one(DataTable)
        first = [str(cell) for cell in table.get_row_at(0)]
        assert first == [f"{newest.created_at:%Y-%m-%d %H:%M}", "Receipt", "Delivered", newest.subject]
        times = [str(table.get_row_at(row)[0]) for row in range(table.row_count)]
        assert times == sorted(times, reverse=True)
        assert screen.focused is table
        await pilot.press("enter")
        body = screen.query_one("#notifications-body", Static)
        assert body.parent.display
        assert newest.body in str(body.content)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen))


async def test_more_loads_the_next_page_after_the_last(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.loaded)
        everything = [item.id async for item in _all(app)]
        screen = NotificationsScreen(app.screen.call_api, page_size=5)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.loaded)
        table = screen.query_one(DataTable)
        assert table.row_count == 5 and screen.next_cursor
        await pilot.press("m")
        await wait_for(pilot, lambda: table.row_count == 10)
        assert [item.id for item in screen.items] == everything[:10]
        assert len(everything) > 10


async def test_the_palette_opens_it(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.loaded)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Notifications")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, NotificationsScreen) and app.screen.loaded)
        assert app.screen.query_one(DataTable).row_count > 0


async def _all(app):
    cursor = None
    while True:
        page = await app.api.notifications(limit=100, cursor=cursor)
        for item in page.items:
            yield item
        if not (cursor := page.next_cursor):
            return
