"""Named time frames at fixed moments, month and year boundaries included."""

from datetime import datetime, timedelta, timezone

import pytest

from credits_tui import timeframes as tf
from credits_tui.timeframes import DateError, TimeFrameChoice, custom_window, describe_window, frame_window


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


MID_JANUARY = utc(2026, 1, 15, 10, 30)


@pytest.mark.parametrize(("frame", "days"), [(tf.LAST_7_DAYS, 7), (tf.LAST_30_DAYS, 30), (tf.LAST_90_DAYS, 90)])
def test_rolling_frames_end_now_and_start_n_days_before(frame, days):
    since, until = frame_window(frame, MID_JANUARY)
    assert since == MID_JANUARY - timedelta(days=days)
    assert until is None


def test_last_30_days_crosses_the_year_boundary():
    assert frame_window(tf.LAST_30_DAYS, utc(2026, 1, 15)) == (utc(2025, 12, 16), None)


def test_last_90_days_crosses_a_leap_february():
    assert frame_window(tf.LAST_90_DAYS, utc(2024, 3, 31)) == (utc(2024, 1, 1), None)


@pytest.mark.parametrize(("now", "window"), [
    (MID_JANUARY, (utc(2026, 1, 1), utc(2026, 2, 1))),
    (utc(2025, 12, 31, 23, 59, 59), (utc(2025, 12, 1), utc(2026, 1, 1))),
    (utc(2026, 1, 1), (utc(2026, 1, 1), utc(2026, 2, 1))),
    (utc(2024, 2, 29, 12), (utc(2024, 2, 1), utc(2024, 3, 1))),
])
def test_this_month(now, window):
    assert frame_window(tf.THIS_MONTH, now) == window


@pytest.mark.parametrize(("now", "window"), [
    (MID_JANUARY, (utc(2025, 12, 1), utc(2026, 1, 1))),
    (utc(2026, 1, 1), (utc(2025, 12, 1), utc(2026, 1, 1))),
    (utc(2026, 3, 31, 23, 59), (utc(2026, 2, 1), utc(2026, 3, 1))),
    (utc(2026, 12, 31), (utc(2026, 11, 1), utc(2026, 12, 1))),
])
def test_last_month(now, window):
    assert frame_window(tf.LAST_MONTH, now) == window


@pytest.mark.parametrize(("now", "window"), [
    (MID_JANUARY, (utc(2026, 1, 1), utc(2027, 1, 1))),
    (utc(2025, 12, 31, 23, 59, 59), (utc(2025, 1, 1), utc(2026, 1, 1))),
])
def test_this_year(now, window):
    assert frame_window(tf.THIS_YEAR, now) == window


def test_all_time_is_open_at_both_ends():
    assert frame_window(tf.ALL_TIME, MID_JANUARY) == (None, None)


def test_a_time_in_another_zone_is_read_in_utc():
    # 2026-01-01 01:00 in UTC+02:00 is still December 31st in UTC
    now = datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert frame_window(tf.THIS_MONTH, now) == (utc(2025, 12, 1), utc(2026, 1, 1))


def test_every_named_frame_has_a_window_and_custom_needs_dates():
    for frame, _label in tf.FRAMES:
        if frame == tf.CUSTOM:
            with pytest.raises(ValueError):
                frame_window(frame, MID_JANUARY)
        else:
            since, until = frame_window(frame, MID_JANUARY)
            assert since is None or since <= MID_JANUARY
            assert until is None or since is None or until > since
            if frame != tf.LAST_MONTH:  # every other frame holds the present moment
                assert until is None or until > MID_JANUARY
    with pytest.raises(ValueError):
        frame_window("fortnight", MID_JANUARY)


def test_custom_dates_are_whole_days_both_included():
    assert custom_window("2026-01-01", "2026-01-31") == (utc(2026, 1, 1), utc(2026, 2, 1))
    assert custom_window("2025-12-31", "2025-12-31") == (utc(2025, 12, 31), utc(2026, 1, 1))
    assert custom_window(" 2026-1-5 ", "") == (utc(2026, 1, 5), None)
    assert custom_window("", "2026-02-28") == (None, utc(2026, 3, 1))
    assert custom_window("", "") == (None, None)


@pytest.mark.parametrize(("since", "until", "field", "words"), [
    ("yesterday", "", "since", "not a date"),
    ("2026-13-01", "", "since", "does not exist"),
    ("", "2026-02-30", "until", "does not exist"),
    ("", "01/15/2026", "until", "YYYY-MM-DD"),
    ("2026-02-01", "2026-01-01", "since", "must not be after"),
    ("", "9999-12-31", "until", "too far"),
])
def test_bad_custom_dates_say_why(since, until, field, words):
    with pytest.raises(DateError) as raised:
        custom_window(since, until)
    assert raised.value.field == field
    assert words in str(raised.value)


def test_choice_and_description():
    assert TimeFrameChoice().frame == tf.DEFAULT_FRAME == tf.LAST_30_DAYS
    assert TimeFrameChoice(tf.CUSTOM, "2026-01-01", "2026-01-31").window(MID_JANUARY) == (
        utc(2026, 1, 1), utc(2026, 2, 1))
    assert TimeFrameChoice(tf.LAST_MONTH).window(MID_JANUARY) == (utc(2025, 12, 1), utc(2026, 1, 1))
    assert describe_window((utc(2025, 12, 1), utc(2026, 1, 1))) == "2025-12-01 → 2025-12-31"
    assert describe_window((utc(2026, 1, 15), utc(2026, 1, 16))) == "2026-01-15"
    assert describe_window((utc(2025, 12, 16, 10, 30), None)) == "2025-12-16 10:30 → now"
    assert describe_window((None, None)) == "all time"
    assert describe_window((None, utc(2026, 3, 1))) == "the beginning → 2026-02-28"
