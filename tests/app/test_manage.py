"""Manage Credits against the real backend in-process (300 seeded transactions over 13 months)."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console
from textual.widgets import Input, Select
from textual.widgets._footer import FooterKey

from credits_tui.api_client import errors
from credits_tui.api_client.models import Transaction, TransactionQuery, TransactionType
from credits_tui.backend.services.ledger import search_words
from credits_tui.backend.services.transactions import CSV_COLUMNS
from credits_tui.screens.export_csv import ExportCsv
from credits_tui.screens.manage import ManageScreen
from credits_tui.screens.status import StatusScreen
from credits_tui.screens.transaction_detail import TransactionDetail, detail_fields
from credits_tui.timeframes import LAST_7_DAYS
from credits_tui.widgets.export_progress import ExportProgress, count_csv_records
from credits_tui.widgets.transaction_table import TransactionTable
from tests.support.pilot import all_time, choose, manage_settled, notifications, open_manage, settle, wait_for
from tests.support.transports import recording

SEEDED = 300
ALL_TIME_QUERY = TransactionQuery()


def rows(screen: ManageScreen) -> list[Transaction]:
    return screen.query_one(TransactionTable).items


async def assert_shows(app, screen: ManageScreen, expected_query: TransactionQuery | None = None) -> None:
    """The rows are the first page of the query and the totals are its summary."""
    query = screen.current_query
    assert query is not None
    if expected_query is not None:
        assert query == expected_query
    summary = await app.api.summary(query)
    assert screen.summary == summary
    page = await app.api.transactions(query, limit=100)
    assert [t.id for t in rows(screen)] == [t.id for t in page.items]
    assert len(rows(screen)) == min(100, summary.count)


async def table_of_all_time(app, pilot) -> tuple[ManageScreen, TransactionTable]:
    """Manage Credits over all time, its table focused (the keys that page and open rows)."""
    screen = await open_manage(app, pilot)
    await all_time(pilot, screen)
    table = screen.query_one(TransactionTable)
    table.focus()
    return screen, table


async def test_the_first_visit_asks_for_the_page_and_totals_side_by_side_and_once(make_app):
    # Both are asked for while the screen is built (ask_ahead), and what comes back is shown.
    app = make_app()
    counting = recording(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and app.screen.loaded)
        counting.paths.clear()  # (Status asks for its recent rows too)
        counting.events.clear()
        screen = await open_manage(app, pilot)
        assert counting.paths["/credits/transactions"] == 1
        assert counting.paths["/credits/transactions/summary"] == 1
        assert (counting.events.index("asked /credits/transactions/summary")
                < counting.events.index("answered /credits/transactions"))
        await assert_shows(app, screen)
        assert screen.summary.count > 0 and screen.time_frame.choice.frame == "last_30_days"


async def test_a_first_look_that_failed_is_asked_for_again(make_app):
    app = make_app()
    counting = recording(app)
    counting.fail.add("/credits/transactions/summary")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        assert counting.paths["/credits/transactions/summary"] >= 2
        await assert_shows(app, screen)
        assert screen.error_banner.visible_message is None


def newest_first(items: list[Transaction]) -> bool:
    return all(a.id > b.id and a.created_at >= b.created_at for a, b in itertools.pairwise(items))


async def test_first_page_is_the_newest_100_and_totals_match_the_default_frame(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        query = screen.current_query
        assert screen.time_frame.choice.frame == "last_30_days"
        now = datetime.now(timezone.utc)
        assert query.since is not None and abs(query.since - (now - timedelta(days=30))) < timedelta(minutes=1)
        assert query.until is None
        await assert_shows(app, screen)
        assert screen.summary.count > 0
        assert newest_first(rows(screen))
        assert all(t.created_at >= query.since for t in rows(screen))
        totals = str(screen.query_one("#totals").content)
        assert f"{screen.summary.count:,} transaction" in totals
        net = screen.summary.credits_added - screen.summary.credits_used
        assert f"{net:+,.2f}" in totals

        await all_time(pilot, screen)
        await assert_shows(app, screen, ALL_TIME_QUERY)
        assert screen.summary.count == SEEDED
        assert len(rows(screen)) == 100
        assert newest_first(rows(screen))
        assert screen.pager.line.startswith("rows 1–100 of 300")


async def test_support_staff_can_search_too(make_app):
    app = make_app("support@demo.example", section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await assert_shows(app, screen)


async def test_transaction_type_chosen_by_keyboard(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        screen.query_one("#type", Select).focus()
        await pilot.press("enter", "down", "enter")  # All types -> Purchase
        await settle(pilot, screen)
        assert screen.query_one("#type", Select).value == "purchase"
        expected = TransactionQuery(transaction_type=[TransactionType.purchase])
        await assert_shows(app, screen, expected)
        assert rows(screen) and all(t.transaction_type is TransactionType.purchase for t in rows(screen))


@pytest.mark.parametrize(("selector", "value", "expected", "matches"), [
    ("#type", "purchase", TransactionQuery(transaction_type=[TransactionType.purchase]),
     lambda t: t.transaction_type is TransactionType.purchase),
    ("#type", "refund", TransactionQuery(transaction_type=[TransactionType.refund]),
     lambda t: t.transaction_type is TransactionType.refund),
    ("#process", "postcard", TransactionQuery(process_type=["postcard"]), lambda t: t.process_type == "postcard"),
    ("#user", "marketing@demo.example", TransactionQuery(user="marketing@demo.example"),
     lambda t: t.user is not None and t.user.email == "marketing@demo.example"),
])
async def test_each_filter_narrows_the_rows_and_the_totals(make_app, selector, value, expected, matches):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        everything = screen.summary.count
        await choose(pilot, screen, selector, value)
        await assert_shows(app, screen, expected)
        assert rows(screen), "the seeded data has rows for every filter used here"
        assert all(matches(t) for t in rows(screen))
        assert 0 < screen.summary.count < everything
        # back to "All" shows everything again
        await choose(pilot, screen, selector, "")
        await assert_shows(app, screen, ALL_TIME_QUERY)


async def test_filters_combine(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        await choose(pilot, screen, "#type", "usage")
        await choose(pilot, screen, "#process", "postcard")
        await assert_shows(app, screen, TransactionQuery(transaction_type=[TransactionType.usage],
                                                         process_type=["postcard"]))
        assert all(t.transaction_type is TransactionType.usage and t.process_type == "postcard"
                   for t in rows(screen))


async def test_search_text_narrows_the_rows_and_the_totals(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        screen.search.value = "postcard"
        await settle(pilot, screen)
        await assert_shows(app, screen, TransactionQuery(q="postcard"))
        assert rows(screen)
        for t in rows(screen):
            words = search_words(t.user.name if t.user else None, t.user.email if t.user else None,
                                 t.transaction_type.value, t.process_type, t.description, t.reference)
            assert any(word.startswith("postcard") for word in words), t


async def test_time_frames_all_time_versus_last_7_days(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        everything = screen.summary.count
        screen.time_frame.set_frame(LAST_7_DAYS)
        await settle(pilot, screen)
        query = screen.current_query
        week_ago = datetime.now(timezone.utc) - timedelta(days=7)
        assert abs(query.since - week_ago) < timedelta(minutes=1) and query.until is None
        await assert_shows(app, screen)
        assert screen.summary.count < everything
        assert all(t.created_at >= query.since for t in rows(screen))
        assert "Last 7 days" in str(screen.query_one("#window-info").content)


async def test_paging_forward_and_back_and_every_transaction_once(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen, table = await table_of_all_time(app, pilot)
        first_page = [t.id for t in rows(screen)]
        seen = list(first_page)
        pages = 1
        while screen.pager.has_next:
            await pilot.press("n")
            await settle(pilot, screen)
            assert table.row_count <= 100  # one page in memory, never more
            pages += 1
            seen += [t.id for t in rows(screen)]
        assert pages == 3
        assert screen.pager.line.startswith("rows 201–300 of 300")
        assert len(seen) == len(set(seen)) == SEEDED
        assert seen == sorted(seen, reverse=True)
        everything = [t.id async for t in app.api.iter_transactions()]
        assert seen == everything
        await pilot.press("n")  # nothing after the last page
        await settle(pilot, screen)
        assert screen.pager.page_index == 2
        await pilot.press("p")
        await settle(pilot, screen)
        assert screen.pager.line.startswith("rows 101–200 of 300")
        await pilot.press("pageup")  # on the first row: the previous page, cursor on its last row
        await settle(pilot, screen)
        assert [t.id for t in rows(screen)] == first_page
        assert table.cursor_row == 99
        await pilot.press("pagedown")  # on the last row: the next page
        await settle(pilot, screen)
        assert screen.pager.page_index == 1 and table.cursor_row == 0
        await pilot.press("p")
        await settle(pilot, screen)
        assert [t.id for t in rows(screen)] == first_page
        assert screen.pager.page_index == 0


async def test_a_new_filter_starts_again_at_the_first_page(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen, _ = await table_of_all_time(app, pilot)
        await pilot.press("n")
        await settle(pilot, screen)
        assert screen.pager.page_index == 1
        await choose(pilot, screen, "#type", "usage")
        assert screen.pager.page_index == 0
        await assert_shows(app, screen, TransactionQuery(transaction_type=[TransactionType.usage]))


async def test_refresh_keeps_the_page(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen, _ = await table_of_all_time(app, pilot)
        await pilot.press("n")
        await settle(pilot, screen)
        second_page = [t.id for t in rows(screen)]
        await asyncio.sleep(0.6)
        await pilot.press("r")
        await settle(pilot, screen)
        assert screen.pager.page_index == 1
        assert [t.id for t in rows(screen)] == second_page


async def test_shown_again_manage_has_what_happened_meanwhile_and_an_unchanged_page_keeps_its_cursor(make_app):
    """Each return to Manage asks for its page again: a purchase made meanwhile is the new top
    row; a page that came back the same keeps the row under the cursor."""
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen, table = await table_of_all_time(app, pilot)
        await pilot.press("down", "down", "down")

        async def away_and_back() -> None:
            await pilot.press("1")
            await wait_for(pilot, lambda: app.current_mode == "status")
            before = screen.summary
            await pilot.press("4")
            await wait_for(pilot, lambda: app.screen is screen and screen.summary is not before
                           and manage_settled(screen))

        shown, count = [t.id for t in rows(screen)], screen.summary.count
        await away_and_back()
        assert [t.id for t in rows(screen)] == shown and table.cursor_row == 3
        bought = await app.api.purchase("25.00")  # from elsewhere: the CLI, another admin
        await away_and_back()
        assert rows(screen)[0] == bought.transaction and bought.transaction.id != shown[0]
        assert [t.id for t in rows(screen)][1:] == shown[:99] and screen.summary.count == count + 1
        await assert_shows(app, screen)


async def test_enter_shows_every_field_of_the_transaction(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen, table = await table_of_all_time(app, pilot)
        await pilot.press("down", "down")
        chosen = table.current
        generation = screen._generation
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TransactionDetail))
        detail = app.screen
        assert detail.item.id == chosen.id
        fields = dict(detail_fields(chosen, "label"))
        assert set(fields) == {"Transaction", "Time (UTC)", "Type", "Process type", "User", "Amount",
                               "Balance after", "Description", "Reference"}
        console = Console(width=100, file=io.StringIO())
        console.print(detail.query_one("#detail-fields").content)
        text = console.file.getvalue()
        assert f"#{chosen.id}" in text
        assert chosen.description in text
        if chosen.user:
            assert chosen.user.email in text
        if chosen.reference:
            assert chosen.reference in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.pause(0.3)
        assert table.current.id == chosen.id  # back where it was
        assert screen._generation == generation  # and nothing fetched again
        assert app.focused is table
        await pilot.press("down", "enter")  # and Enter still works
        await wait_for(pilot, lambda: isinstance(app.screen, TransactionDetail))
        assert app.screen.item.id != chosen.id


async def test_server_text_is_never_markup(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        item = rows(screen)[0].model_copy(update={"description": "a [/] b [bold]x", "reference": "[red"})
        table = screen.query_one(TransactionTable)
        table.show_page([item])
        await pilot.pause()
        screen.show_detail(item.id)
        await wait_for(pilot, lambda: isinstance(app.screen, TransactionDetail))
        await pilot.pause()
        await pilot.press("escape")


async def export_to(pilot, app, screen: ManageScreen, path) -> None:
    screen.query_one(TransactionTable).focus()
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, ExportCsv))
    app.screen.query_one("#export-path", Input).value = str(path)
    await pilot.press("enter")


async def test_export_writes_every_matching_transaction(make_app, tmp_path):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        await choose(pilot, screen, "#type", "usage")
        target = tmp_path / "usage.csv"
        await export_to(pilot, app, screen, target)
        await wait_for(pilot, lambda: screen.query_one(ExportProgress).last_export is not None, timeout=10)
        assert app.screen is screen
        with target.open(newline="", encoding="utf-8") as handle:
            records = list(csv.reader(handle))
        assert records[0] == CSV_COLUMNS
        assert len(records) - 1 == screen.summary.count == screen.query_one(ExportProgress).last_export[1]
        assert all(record[2] == "usage" for record in records[1:])
        assert not (tmp_path / "usage.csv.part").exists()


async def test_export_default_frame_matches_summary_and_asks_before_replacing(make_app, tmp_path):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        target = tmp_path / "recent.csv"
        target.write_text("old")
        await export_to(pilot, app, screen, target)
        await pilot.pause()
        assert isinstance(app.screen, ExportCsv)  # it asks first
        assert "already exists" in str(app.screen.query_one("#export-message").content)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.query_one(ExportProgress).last_export is not None, timeout=10)
        data_lines = target.read_text(encoding="utf-8").splitlines()[1:]
        assert len(data_lines) == screen.summary.count


async def test_export_refuses_a_missing_folder_and_can_be_cancelled(make_app, tmp_path):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await export_to(pilot, app, screen, tmp_path / "nowhere" / "x.csv")
        await pilot.pause()
        assert isinstance(app.screen, ExportCsv)
        assert "does not exist" in str(app.screen.query_one("#export-message").content)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.query_one(ExportProgress).last_export is None and not screen.query_one(ExportProgress).exporting


async def test_a_failed_export_says_why_and_leaves_no_file(make_app, tmp_path, monkeypatch):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        notices: list[str] = []
        monkeypatch.setattr(app, "notify", lambda message, **kw: notices.append(message))

        async def broken(query=None):
            yield b"id,created_at\r\n1,2026-01-01\r\n"
            raise errors.NetworkError("The export from the server was cut off: boom.", code="network_error")

        monkeypatch.setattr(app.api, "stream_csv", broken)
        target = tmp_path / "broken.csv"
        await export_to(pilot, app, screen, target)
        await wait_for(pilot, lambda: bool(notices) and not screen.query_one(ExportProgress).exporting)
        assert "cut off" in notices[0]
        assert not target.exists() and not (tmp_path / "broken.csv.part").exists()
        assert screen.query_one(ExportProgress).last_export is None


async def test_a_bad_custom_date_says_so_and_keeps_working(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        before = [t.id for t in rows(screen)]
        frame = screen.time_frame
        frame.frame_select.focus()
        await pilot.press("enter", "end", "enter")  # Custom…
        await pilot.pause()
        assert frame.choice.frame == "custom"
        since = screen.query_one("#since", Input)
        assert app.focused is since
        assert since.value  # prefilled from the frame that was showing
        await settle(pilot, screen)
        since.value = ""
        await pilot.press(*"2026-13-01")
        await wait_for(pilot, lambda: "does not exist" in screen.filter_bar.message)
        assert since.has_class("-invalid")
        assert [t.id for t in rows(screen)] == before or rows(screen)  # still showing, no crash
        screen.query_one("#until", Input).value = "not a date"
        since.value = "2025-01-01"
        await wait_for(pilot, lambda: "not a date" in screen.filter_bar.message)
        assert screen.query_one("#until", Input).has_class("-invalid")
        # The table still shows the previous filters: it is not exported as "the filters shown".
        screen.table.focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: any("Fix the filters first" in note for note in notifications(app)))
        assert app.screen is screen
        frame.set_dates("2025-12-01", "2025-12-31")
        await settle(pilot, screen)
        await wait_for(pilot, lambda: screen.filter_bar.message == "")
        expected = TransactionQuery(since=datetime(2025, 12, 1, tzinfo=timezone.utc),
                                    until=datetime(2026, 1, 1, tzinfo=timezone.utc))
        await assert_shows(app, screen, expected)


async def test_the_start_after_the_end_is_refused(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        screen.time_frame.set_dates("2026-02-01", "2026-01-01")
        await wait_for(pilot, lambda: "must not be after" in screen.filter_bar.message)
        assert app.screen is screen


async def test_typing_quickly_shows_the_last_text_never_a_late_stale_answer(make_app, monkeypatch):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        asked: list[str | None] = []
        real = app.api.transactions

        async def spy(query=None, **kwargs):
            asked.append(query.q if query else None)
            if query is not None and query.q == "post":
                await asyncio.sleep(1.0)  # an older answer that arrives late must not be shown
            return await real(query, **kwargs)

        monkeypatch.setattr(app.api, "transactions", spy)
        screen.query_one(TransactionTable).focus()
        await pilot.press("slash")
        assert app.focused is screen.search
        await pilot.press(*"post")
        await pilot.pause(0.45)  # the search for "post" starts (and is slow)
        await pilot.press(*"card")
        await settle(pilot, screen)
        await pilot.pause(1.2)  # long enough for the "post" answer, had it not been cancelled
        assert screen.search.value == "postcard"
        assert screen.current_query.q == "postcard"
        assert asked[-1] == "postcard"
        # Search as you type: a search per pause in typing (the delay is short, so a slow typist
        # gets one per key), each for what was typed by then; the last one wins.
        assert set(asked) <= {"postcard"[:n] for n in range(1, len("postcard") + 1)}
        await assert_shows(app, screen, TransactionQuery(q="postcard"))


async def test_letters_typed_in_search_do_not_page_or_export(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        await pilot.press("slash")
        await pilot.press("n", "e", "p")
        assert screen.search.value == "nep"
        assert screen.pager.page_index == 0 and not isinstance(app.screen, ExportCsv)
        await pilot.press("escape")
        assert isinstance(app.focused, TransactionTable)


def test_csv_records_are_counted_across_chunks_and_quoted_newlines():
    data = b'id,description\r\n1,"two\r\nlines"\r\n2,"a ""quoted"" word"\r\n3,plain\r\n'
    for size in (1, 2, 5, len(data)):
        records, in_quotes = 0, False
        for start in range(0, len(data), size):
            ends, in_quotes = count_csv_records(data[start:start + size], in_quotes)
            records += ends
        assert records == 4 and not in_quotes


async def test_every_action_is_in_the_command_palette_and_the_footer(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        assert app.focused is screen.query_one(TransactionTable)  # the table has the keys from the start
        titles = {command.title for command in screen.section_commands()}
        assert {"Search transactions", "Next page", "Transaction details", "Export CSV"} <= titles
        shown = {binding.key for (_node, binding, _enabled, _tooltip) in screen.active_bindings.values()
                 if binding.show}
        assert {"slash", "n", "p", "e", "enter"} <= shown
        assert not {"1", "2", "3", "4", "r", "question_mark"} & {b.key for b in screen.BINDINGS}


async def test_the_footer_offers_next_and_previous_page_as_the_page_shown_allows(make_app):
    """The footer is rebuilt only when its keys change; a change must still reach it."""
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)

        async def offered() -> tuple[bool, bool]:
            await pilot.pause()
            keys = {key.key: key for key in screen.query(FooterKey)}
            return not keys["n"].has_class("-disabled"), not keys["p"].has_class("-disabled")

        assert await offered() == (True, False)  # the first of three pages
        await pilot.press("n")
        await settle(pilot, screen)
        assert await offered() == (True, True)
        await pilot.press("n")
        await settle(pilot, screen)
        assert await offered() == (False, True)  # the last page
        await pilot.press("p", "p")
        await settle(pilot, screen)
        await wait_for(pilot, lambda: screen.pager.page_index == 0)
        assert await offered() == (True, False)


async def test_the_tables_keys_come_back_to_the_footer_when_a_slow_page_has_come(make_app, monkeypatch):
    """While a slow page is fetched the table spins and its keys (Enter: Details) do not work;
    once the page is in they work again, and the footer says so."""
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen, table = await table_of_all_time(app, pilot)
        real = app.api.transactions

        async def slow(query=None, **kwargs):
            await asyncio.sleep(0.6)  # past the delay after which the table shows a spinner
            return await real(query, **kwargs)

        def footer_offers_details() -> bool:
            return any(key.description == "Open" for key in screen.query(FooterKey))

        assert footer_offers_details()
        monkeypatch.setattr(app.api, "transactions", slow)
        await pilot.press("n")
        await wait_for(pilot, lambda: table.loading and not footer_offers_details())
        await settle(pilot, screen)
        assert not table.loading and screen.pager.page_index == 1
        await wait_for(pilot, footer_offers_details)


async def test_a_server_failure_is_readable_and_retry_recovers(make_app, monkeypatch):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        real = app.api.transactions

        async def failing(query=None, **kwargs):
            raise errors.ServerError("The server failed (HTTP 500). Try again in a moment.", code="server_error")

        monkeypatch.setattr(app.api, "transactions", failing)
        await all_time(pilot, screen)
        assert screen.error_banner.visible_message == "The server failed (HTTP 500). Try again in a moment."
        assert "could not be loaded" in screen.pager.line
        assert screen.query_one(TransactionTable).row_count == 0
        monkeypatch.setattr(app.api, "transactions", real)
        screen.error_banner.query_one("#retry").press()
        await wait_for(pilot, lambda: screen.query_one(TransactionTable).row_count == 100 and manage_settled(screen))
        assert screen.error_banner.visible_message is None
        await assert_shows(app, screen, ALL_TIME_QUERY)


async def test_a_file_that_cannot_be_written_is_reported(make_app, tmp_path, monkeypatch):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        notices: list[str] = []
        monkeypatch.setattr(app, "notify", lambda message, **kw: notices.append(message))
        target = tmp_path / "blocked.csv"
        (tmp_path / "blocked.csv.part").mkdir()  # the partial file cannot be created
        await export_to(pilot, app, screen, target)
        await wait_for(pilot, lambda: bool(notices) and not screen.query_one(ExportProgress).exporting)
        assert notices[0].startswith(f"Could not write {target}")
        assert not target.exists() and screen.query_one(ExportProgress).last_export is None


async def test_around_80_columns_the_balance_is_never_under_the_scrollbar(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_manage(app, pilot)
        await all_time(pilot, screen)
        await choose(pilot, screen, "#type", "usage")  # small amounts: the type column gets the room
        table = screen.query_one(TransactionTable)
        for width in range(78, 90):
            await pilot.resize_terminal(width, 24)
            await wait_for(pilot, lambda width=width: table.size.width == width - 2)
            await pilot.pause()
            assert table.show_vertical_scrollbar  # 100 rows in a short window
            through_balance = list(table.columns.values())[:5]
            assert sum(column.get_render_width(table) for column in through_balance) <= \
                table.scrollable_content_region.width, f"at {width} columns"


async def test_a_search_asks_for_its_rows_first_and_its_totals_once_they_are_in(make_app, monkeypatch):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        events: list[tuple[str, str | None]] = []
        page, summary = app.api.transactions, app.api.summary

        async def page_spy(query=None, **kwargs):
            result = await page(query, **kwargs)
            events.append(("page in", query.q if query else None))
            return result

        async def summary_spy(query=None):
            events.append(("totals asked", query.q if query else None))
            return await summary(query)

        monkeypatch.setattr(app.api, "transactions", page_spy)
        monkeypatch.setattr(app.api, "summary", summary_spy)
        await pilot.press("slash", *"post")
        await settle(pilot, screen)
        # The totals scan the window: asked alongside, they would slow the rows down on the server.
        assert ("totals asked", "post") in events
        assert events.index(("page in", "post")) < events.index(("totals asked", "post"))
        await assert_shows(app, screen)
        assert screen.current_query.q == "post"


async def test_a_resize_that_lays_the_columns_out_again_keeps_the_row_under_the_cursor(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        _, table = await table_of_all_time(app, pilot)
        table.move_cursor(row=42, animate=False)
        chosen = table.current
        widths = [column.width for column in table.columns.values()]
        await pilot.resize_terminal(90, 36)
        await wait_for(pilot, lambda: table.size.width == 88)
        await pilot.pause()
        assert [column.width for column in table.columns.values()] != widths  # laid out again
        assert table.cursor_row == 42 and table.current == chosen
