"""Credits used per day, stacked by process type (DESIGN.md §9), for Status and Manage Credits.

Drawn with textual-plotext (Textualize's own wrapper of plotext): it follows the app's theme,
and plotext draws stacked bars with tick labels of our choosing, which is what "where do the
credits go, day by day" needs. textual-plot (pure Textual, braille) draws lines and scatter
plots only; a stacked bar per day reads better than five crossing lines of spiky daily usage.

The legend is our own text under the plot, in the bars' colours: it says the catalog's labels
(``Postcard``), not the wire names, and wraps between entries, never inside one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from credits_tui.api_client.models import DailyUsage
from credits_tui.formatting import credits_text

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

MAX_BARS = 62  # more days than this become weeks, more weeks months: a bar stays ≥ 1 column wide
TICKS = 5
# One colour per process type, in catalog order; the bars and the legend share them.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (86, 156, 214), (230, 159, 0), (0, 158, 115), (204, 121, 167), (240, 228, 66), (213, 94, 0), (150, 150, 150),
)


@dataclass(frozen=True)
class UsageSeries:
    """Credits used per bar and process type, every bar present (a bar without usage is zero)."""

    unit: str  # "day", "week" or "month"
    starts: list[date]  # the first day of each bar
    credits: dict[str, list[Decimal]]  # process type -> credits per bar, in legend order

    @property
    def total(self) -> Decimal:
        return sum((sum(values, Decimal(0)) for values in self.credits.values()), Decimal(0))


def _bar_start(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())  # weeks start on Monday
    if unit == "month":
        return day.replace(day=1)
    return day


def _bar_starts(first: date, last: date, unit: str) -> list[date]:
    starts, day = [], _bar_start(first, unit)
    while day <= last:
        starts.append(day)
        if unit == "month":
            day = (day + timedelta(days=32)).replace(day=1)
        else:
            day += timedelta(days=7 if unit == "week" else 1)
    return starts


def usage_series(usage: DailyUsage, first: date | None, last: date, order: Iterable[str] = ()) -> UsageSeries:
    """The bars from ``first`` to ``last`` (both included; ``first`` None: the first day used).

    ``order`` lists process types in the order the legend shows them (the catalog's);
    types not in it follow in the order the server sent them.
    """
    started = min((d.date for d in usage.days), default=last)
    if first is None or (last - first).days + 1 > MAX_BARS * 31:
        # A window of more months than there are bars (a custom frame from the year 1) starts
        # where the usage starts: a bar per month since then, not 24,000 empty ones.
        first = max(first or started, started)
    span = (last - first).days + 1
    unit = "day" if span <= MAX_BARS else "week" if span <= MAX_BARS * 7 else "month"
    starts = _bar_starts(first, last, unit)
    index = {start: i for i, start in enumerate(starts)}
    used = [d for d in usage.days if first <= d.date <= last and d.credits_used]
    present = {d.process_type for d in used}
    types = [t for t in order if t in present]
    types += sorted(present.difference(types), key=[d.process_type for d in used].index)
    credits = {t: [Decimal(0)] * len(starts) for t in types}
    for day in used:
        credits[day.process_type][index[_bar_start(day.date, unit)]] += day.credits_used
    return UsageSeries(unit, starts, credits)


def _tick_label(start: date, unit: str) -> str:
    return f"{start:%b %Y}" if unit == "month" else f"{start:%b %d}"


class UsageChart(Vertical):
    """A caption, the stacked bars and a legend; ``show`` draws a ``DailyUsage``."""

    DEFAULT_CSS = """
    UsageChart {
        height: auto;
        & > #usage-caption { height: 1; color: $text-muted; text-style: bold; }
        & > .usage-plot { height: 10; }
        & > #usage-legend { height: auto; max-height: 4; }
    }
    """

    def __init__(self, title: str = "Credits used", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.series: UsageSeries | None = None
        self.labels: dict[str, str] = {}
        self._entries: list[Text] = []
        self._failure = "Loading usage…"

    def compose(self) -> ComposeResult:
        yield Static(self.title, id="usage-caption", markup=False)
        # The plot (and plotext, a tenth of the app's start) comes with the first usage to draw.
        yield Static("", id="usage-no-plot", classes="usage-plot")
        yield Static("Loading usage…", id="usage-legend", markup=False)

    def _plot(self) -> PlotextPlot:
        from textual_plotext import PlotextPlot

        if plots := self.query(PlotextPlot):
            return plots.first()
        plot = PlotextPlot(classes="usage-plot")
        self.query_one("#usage-no-plot").remove()
        self.mount(plot, before="#usage-legend")
        return plot

    @property
    def legend(self) -> str:
        """The legend as a person reads it, on one line."""
        return "  ".join(entry.plain for entry in self._entries) if self._entries else self._failure

    def show(self, usage: DailyUsage, labels: Mapping[str, str], first: date | None, last: date) -> None:
        """Draw ``usage`` per day from ``first`` to ``last`` (weeks or months when that is too many)."""
        series = self.series = usage_series(usage, first, last, labels)
        self.labels = dict(labels)
        span = f"{series.starts[0]:%b %d, %Y} – {last:%b %d, %Y}"
        self.query_one("#usage-caption", Static).update(f"{self.title} per {series.unit} · {span} (UTC)")
        self._draw(series)
        self._entries = [
            Text.assemble(("██ ", "rgb({},{},{})".format(*PALETTE[i % len(PALETTE)])),
                          f"{labels.get(process_type, process_type)} {credits_text(sum(values, Decimal(0)))}")
            for i, (process_type, values) in enumerate(series.credits.items())
        ] or [Text("No usage in this window.", style="italic")]
        self._show_legend()

    def on_resize(self) -> None:
        if self._entries:
            self._show_legend()

    def _show_legend(self) -> None:
        """The entries, as many to a line as fit: a long legend wraps between entries, never inside one."""
        width = self.query_one("#usage-legend", Static).size.width or self.size.width
        legend, used = Text(), 0
        for entry in self._entries:
            if used and width and used + 2 + entry.cell_len > width:
                legend.append("\n")
                used = 0
            elif used:
                legend.append("  ")
                used += 2
            legend.append_text(entry)
            used += entry.cell_len
        self.query_one("#usage-legend", Static).update(legend)

    def show_failure(self, message: str) -> None:
        self._entries, self._failure = [], message
        self.query_one("#usage-legend", Static).update(Text(message, style="italic"))

    def _draw(self, series: UsageSeries) -> None:
        plot = self._plot()
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        positions = list(range(len(series.starts)))
        # plotext draws numbers: the Decimals become floats here, for drawing only.
        stacks = [[float(value) for value in values] for values in series.credits.values()]
        if stacks:
            colors = [PALETTE[i % len(PALETTE)] for i in range(len(stacks))]
            # plotext takes one colour per stack; its annotations say a single colour.
            plt.stacked_bar(positions, stacks, color=colors, width=0.6, minimum=0)  # type: ignore[arg-type]
        else:  # nothing used: an empty frame with its dates still says "zero every day"
            plt.bar(positions, [0.0] * len(positions), width=0.6, minimum=0)
        step = max(1, -(-len(positions) // TICKS))
        ticks = positions[::step]
        if positions[-1] not in ticks and positions[-1] - ticks[-1] >= step // 2:
            ticks.append(positions[-1])
        plt.xticks([float(tick) for tick in ticks], [_tick_label(series.starts[i], series.unit) for i in ticks])
        plt.xlim(-1, len(positions))
        plt.ylim(0, None)
        plot.refresh()
