"""Named time frames as UTC windows: pure functions, no Textual, no I/O.

A window is ``(since, until)``: ``since`` inclusive, ``until`` exclusive (as the API reads
them), either ``None`` for open-ended. Rolling frames ("Last 7 days") end now and are left
open at the end, so a transaction recorded a moment later still falls inside; calendar frames
("This month") are whole calendar periods in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

Window = tuple[datetime | None, datetime | None]

LAST_7_DAYS = "last_7_days"
LAST_30_DAYS = "last_30_days"
LAST_90_DAYS = "last_90_days"
THIS_MONTH = "this_month"
LAST_MONTH = "last_month"
THIS_YEAR = "this_year"
ALL_TIME = "all_time"
CUSTOM = "custom"

FRAMES: tuple[tuple[str, str], ...] = (
    (LAST_7_DAYS, "Last 7 days"),
    (LAST_30_DAYS, "Last 30 days"),
    (LAST_90_DAYS, "Last 90 days"),
    (THIS_MONTH, "This month"),
    (LAST_MONTH, "Last month"),
    (THIS_YEAR, "This year"),
    (ALL_TIME, "All time"),
    (CUSTOM, "Custom…"),
)
"""Every frame as (id, label), in the order a person picks from."""

DEFAULT_FRAME = LAST_30_DAYS
LABELS = dict(FRAMES)
_ROLLING_DAYS = {LAST_7_DAYS: 7, LAST_30_DAYS: 30, LAST_90_DAYS: 90}
_DATE_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")


class DateError(ValueError):
    """A custom date a person typed that cannot be used; ``str()`` says why, for a person."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def _month_start(year: int, month: int) -> datetime:
    # month may be 0 (December of the year before) or 13 (January of the year after)
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=timezone.utc)


def frame_window(frame: str, now: datetime) -> Window:
    """The UTC window of a named frame (not ``custom``) at ``now``."""
    now = _utc(now)
    if frame in _ROLLING_DAYS:
        return now - timedelta(days=_ROLLING_DAYS[frame]), None
    if frame == THIS_MONTH:
        return _month_start(now.year, now.month), _month_start(now.year, now.month + 1)
    if frame == LAST_MONTH:
        return _month_start(now.year, now.month - 1), _month_start(now.year, now.month)
    if frame == THIS_YEAR:
        return datetime(now.year, 1, 1, tzinfo=timezone.utc), datetime(now.year + 1, 1, 1, tzinfo=timezone.utc)
    if frame == ALL_TIME:
        return None, None
    if frame == CUSTOM:
        raise ValueError("a custom frame needs its dates: use custom_window()")
    raise ValueError(f"unknown time frame {frame!r}")


def parse_day(text: str, field: str) -> date | None:
    """A calendar date typed as ``YYYY-MM-DD``; empty means no bound (``None``)."""
    if not text.strip():
        return None
    name = "Start" if field == "since" else "End"
    match = _DATE_RE.match(text)
    if not match:
        raise DateError(f"{name} date {text.strip()!r} is not a date: use YYYY-MM-DD, e.g. 2026-01-15.", field)
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise DateError(f"{name} date {text.strip()!r} does not exist in the calendar.", field) from None


def custom_window(since_text: str, until_text: str) -> Window:
    """The window of two typed dates, both inclusive: 2026-01-01 to 2026-01-31 is all of January.

    Either may be empty (open-ended). Raises ``DateError`` with a message for a person.
    """
    first = parse_day(since_text, "since")
    last = parse_day(until_text, "until")
    if first and last and first > last:
        raise DateError("The start date must not be after the end date.", "since")
    since = _midnight(first) if first else None
    until = None
    if last:
        if last == date.max:
            raise DateError("The end date is too far in the future.", "until")
        until = _midnight(last + timedelta(days=1))
    return since, until


def describe_window(window: Window) -> str:
    """``2025-12-17 14:03 → now`` for a person (UTC)."""
    since, until = window

    def moment(value: datetime) -> str:
        return f"{value:%Y-%m-%d}" if value.time() == time(0) else f"{value:%Y-%m-%d %H:%M}"

    if since is None and until is None:
        return "all time"
    start = moment(since) if since else "the beginning"
    if until is None:
        return f"{start} → now"
    # the end is exclusive: a whole-day end reads better as the last day included
    if until.time() == time(0):
        end = f"{until - timedelta(days=1):%Y-%m-%d}"
        return f"{start} → {end}" if start != end else start
    return f"{start} → {moment(until)}"


@dataclass(frozen=True)
class TimeFrameChoice:
    """What the time-frame picker holds: a frame and, for ``custom``, the typed dates."""

    frame: str = DEFAULT_FRAME
    since_text: str = ""
    until_text: str = ""

    def window(self, now: datetime) -> Window:
        if self.frame == CUSTOM:
            return custom_window(self.since_text, self.until_text)
        return frame_window(self.frame, now)
