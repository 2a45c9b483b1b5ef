"""The transaction table's columns at every terminal width: the amount is always in view and the
description is either cut with an ellipsis inside the view or wholly off to the right."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from textual.app import App, ComposeResult

from credits_tui.api_client.models import Transaction
from credits_tui.widgets.transaction_table import DESCRIPTION_MIN, TransactionTable, column_widths

PAD = 2  # one cell each side of every column


@pytest.mark.parametrize("width", range(54, 200))
def test_the_amount_is_in_view_and_the_description_never_a_sliver(width):
    widths = column_widths(width, amount=6, balance=8)
    before_amount = widths["time"] + widths["type"] + widths["user"] + 3 * PAD
    assert before_amount + widths["amount"] + PAD <= width
    description_starts = before_amount + widths["amount"] + widths["balance"] + 2 * PAD
    description_ends = description_starts + widths["description"] + PAD
    in_view = description_ends <= width and widths["description"] >= DESCRIPTION_MIN
    assert in_view or description_starts >= width


def test_with_room_the_columns_keep_their_widths_and_the_description_takes_the_rest():
    widths = column_widths(120, amount=9, balance=8)
    assert (widths["type"], widths["user"]) == (22, 14)
    assert sum(widths.values()) + 6 * PAD == 120


def _item(id: int, amount: str, balance: str) -> Transaction:
    return Transaction(id=id, created_at=datetime(2026, 11, 1, tzinfo=timezone.utc), transaction_type="usage",
                       process_type="postcard", user=None, amount=amount, balance_after=balance,
                       description="Campaign", reference=None)


class _OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield TransactionTable()


async def test_the_figure_columns_widen_for_a_wider_page_and_stay_for_a_narrower_one():
    """Typing a search narrows the rows: the columns stay where the reader's eyes are."""
    app = _OneTable()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(TransactionTable)
        table.show_page([_item(1, "-1234567.00", "9876543.00"), _item(2, "-1.00", "5.00")])
        await pilot.pause()
        wide = {key.value: column.width for key, column in table.columns.items()}
        assert wide["amount"] >= len("-1,234,567.00") and wide["balance"] >= len("9,876,543.00")
        table.show_page([_item(3, "-1.00", "5.00")])
        await pilot.pause()
        assert {key.value: column.width for key, column in table.columns.items()} == wide
        assert [row.value for row in table.rows] == ["3"]
        table.show_page([_item(4, "-12345678.00", "5.00")])
        await pilot.pause()
        assert table.columns["amount"].width > wide["amount"]


async def test_a_long_page_scrolls_to_its_last_row_and_spans_every_column():
    """The table skips DataTable's per-cell measuring (fixed widths, one-line rows): its size
    must still cover every row and column, so the cursor and the view reach the last row."""
    app = _OneTable()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(TransactionTable)
        table.show_page([_item(i, "-1.00", "5.00") for i in range(100, 0, -1)])
        await pilot.pause()
        widths = sum(column.get_render_width(table) for column in table.columns.values())
        assert table.virtual_size.width == widths
        assert table.virtual_size.height == 100 + table.header_height
        table.focus()
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert table.current is not None and table.current.id == 1
        assert table.scroll_offset.y == table.max_scroll_y > 0
