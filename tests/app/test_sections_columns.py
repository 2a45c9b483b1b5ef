"""The transaction table's columns at every terminal width: the amount is always in view and the
description is either cut with an ellipsis inside the view or wholly off to the right."""

from __future__ import annotations

import pytest

from credits_tui.widgets.transaction_table import DESCRIPTION_MIN, column_widths

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
