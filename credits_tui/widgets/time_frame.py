"""The time-frame picker: a named frame, or two typed dates for a custom one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Select

from credits_tui import timeframes
from credits_tui.timeframes import CUSTOM, DEFAULT_FRAME, FRAMES, TimeFrameChoice


class TimeFrame(Vertical):
    """A Select of named frames; "Custom…" shows a start and an end date below it.

    Posts ``TimeFrame.Changed`` with the new choice; ``typing`` is True while a date is
    being typed (the screen waits for a pause), False for a pick or Enter (at once).
    """

    DEFAULT_CSS = """
    TimeFrame { height: auto; }
    TimeFrame > #custom-dates { display: none; height: 1; }
    TimeFrame.-custom > #custom-dates { display: block; }
    TimeFrame #custom-dates Input { width: 1fr; }
    TimeFrame #custom-dates Label { width: 3; content-align: center middle; }
    TimeFrame Input.-invalid { background: $error 25%; }
    """

    class Changed(Message):
        def __init__(self, time_frame: TimeFrame, choice: TimeFrameChoice, typing: bool) -> None:
            super().__init__()
            self.time_frame = time_frame
            self.choice = choice
            self.typing = typing

        @property
        def control(self) -> TimeFrame:
            return self.time_frame

    def __init__(self, frame: str = DEFAULT_FRAME, *, now: Callable[[], datetime] | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._frame = frame
        self._now = now or (lambda: datetime.now(timezone.utc))

    def compose(self) -> ComposeResult:
        yield Select([(label, frame) for frame, label in FRAMES], value=self._frame, allow_blank=False,
                     compact=True, id="frame", tooltip="Time frame (UTC)")
        with Horizontal(id="custom-dates"):
            yield Input(placeholder="YYYY-MM-DD", max_length=10, compact=True, id="since",
                        tooltip="First day (UTC), included; empty: from the beginning")
            yield Label("→")
            yield Input(placeholder="YYYY-MM-DD", max_length=10, compact=True, id="until",
                        tooltip="Last day (UTC), included; empty: up to now")

    @property
    def choice(self) -> TimeFrameChoice:
        frame = self.query_one("#frame", Select).value
        frame = frame if isinstance(frame, str) else DEFAULT_FRAME
        if frame != CUSTOM:
            return TimeFrameChoice(frame)
        return TimeFrameChoice(frame, self.query_one("#since", Input).value.strip(),
                               self.query_one("#until", Input).value.strip())

    @property
    def frame_select(self) -> Select[str]:
        return self.query_one("#frame", Select)

    def set_frame(self, frame: str) -> None:
        self.frame_select.value = frame

    def set_dates(self, since: str, until: str) -> None:
        """Choose a custom frame with these dates (as typed)."""
        self.query_one("#since", Input).value = since
        self.query_one("#until", Input).value = until
        self.frame_select.value = CUSTOM

    def mark_invalid(self, field: str | None) -> None:
        """Show which date is wrong (``since``/``until``), or none."""
        for name in ("since", "until"):
            self.query_one(f"#{name}", Input).set_class(name == field, "-invalid")

    @on(Select.Changed, "#frame")
    def _frame_changed(self, event: Select.Changed) -> None:
        event.stop()
        custom = event.value == CUSTOM
        if custom and not self.has_class("-custom"):
            self._prefill(self._frame)
        self.set_class(custom, "-custom")
        if isinstance(event.value, str):
            self._frame = event.value
        if custom:
            self.query_one("#since", Input).focus()
        else:
            self.mark_invalid(None)
        self.post_message(self.Changed(self, self.choice, typing=False))

    def _prefill(self, previous: str) -> None:
        """Start the custom dates from the frame that was showing, so the window stays put."""
        since_input, until_input = self.query_one("#since", Input), self.query_one("#until", Input)
        if since_input.value or until_input.value or previous == CUSTOM:
            return
        now = self._now()
        since, until = timeframes.frame_window(previous, now)
        since_input.value = f"{since:%Y-%m-%d}" if since else ""
        last = (until - timedelta(microseconds=1)) if until else now
        until_input.value = f"{last:%Y-%m-%d}" if since or until else ""

    @on(Input.Changed, "#since, #until")
    def _date_typed(self, event: Input.Changed) -> None:
        event.stop()
        if self.has_class("-custom"):
            self.post_message(self.Changed(self, self.choice, typing=True))

    @on(Input.Submitted, "#since, #until")
    def _date_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.has_class("-custom"):
            self.post_message(self.Changed(self, self.choice, typing=False))
