"""Where the credits go: the usage chart and the runway line on Status, the chart on Manage Credits."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import ROUND_FLOOR, Decimal

from textual.widgets import Select
from textual_plotext import PlotextPlot

from credits_tui.api_client.models import AutoRechargeUpdate, DailyUsage, DailyUsageDay, TransactionQuery
from credits_tui.runway import usage_window
from credits_tui.screens.status import StatusScreen
from credits_tui.widgets.transaction_table import TransactionTable
from credits_tui.widgets.usage_chart import UsageChart, usage_series
from tests.support.pilot import manage_settled, open_manage, wait_for


def runway(app) -> str:
    found = app.screen.query("#runway")  # "" until Status has composed
    return str(found.first().content) if found else ""


async def test_status_charts_30_days_by_process_type_and_says_how_long_the_balance_lasts(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and "credits/day" in runway(app))
        chart = app.screen.query_one("#usage-chart", UsageChart)
        first, since = usage_window(datetime.now(timezone.utc))
        usage = await app.api.daily_usage(TransactionQuery(since=since))
        status = await app.api.status()
        labels = {p.process_type: p.label for p in (await app.api.prices()).items}
        used = {day.process_type for day in usage.days}
        assert len(used) >= 2  # the demo uses several process types in 30 days

        # The legend names every process type used, by its catalog label, and no other.
        for process_type, label in labels.items():
            assert (label in chart.legend) == (process_type in used), label

        # One bar a day for 30 days; a day without usage is a zero, a day with usage its credits.
        series = chart.series
        assert series is not None and series.unit == "day" and len(series.starts) == 30
        assert series.starts[0] == first
        sent = {(day.date, day.process_type): day.credits_used for day in usage.days}
        for process_type, values in series.credits.items():
            for start, value in zip(series.starts, values, strict=True):
                assert value == sent.get((start, process_type), Decimal(0))
        assert series.total == sum(sent.values())

        # The runway, worked out here from the API's own figures.
        # The demo has auto-recharge on (below 500 → 2,000): the balance never runs out, and Status
        # says what keeps it up instead of a number of days.
        burn = sum(sent.values()) / 30
        assert f"{burn:,.2f} credits/day over 30 days" in runway(app)
        assert status.auto_recharge.enabled and status.auto_recharge.threshold is not None
        assert f"auto-recharge keeps it above {status.auto_recharge.threshold:,.2f}" in runway(app)
        assert "lasts" not in runway(app)


async def test_without_auto_recharge_status_says_how_long_the_balance_lasts(make_app):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and "credits/day" in runway(app))
        await app.api.put_auto_recharge(AutoRechargeUpdate(enabled=False))
        await pilot.press("r")
        await wait_for(pilot, lambda: "lasts" in runway(app))
        _, since = usage_window(datetime.now(timezone.utc))
        usage = await app.api.daily_usage(TransactionQuery(since=since))
        status = await app.api.status()
        burn = sum(day.credits_used for day in usage.days) / 30
        lasts = int((status.purchase_credits / burn).to_integral_value(ROUND_FLOOR))
        assert f"at this rate the balance lasts ≈ {lasts:,} days" in runway(app)


async def test_status_still_fits_80_by_24_with_the_chart(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StatusScreen) and "credits/day" in runway(app))
        chart = app.screen.query_one("#usage-chart", UsageChart)

        def legend() -> list[str]:
            return str(chart.query_one("#usage-legend").content).splitlines()

        # The chart is laid out once its data is in, and again once the body's scrollbar appears
        # (two layouts, which a busy machine may not have reached at the first look): wait for it
        # to fit, the runway line on one line and a long legend wrapped within the chart's width.
        await wait_for(pilot, lambda: chart.series is not None and chart.size.width <= 78
                       and chart.query_one(PlotextPlot).size.height >= 5
                       and app.screen.query_one("#runway").size.height == 1
                       and len(legend()) > 1 and all(len(line) <= chart.size.width for line in legend()))
        # The legend wraps between entries, never inside one: every line starts with a colour swatch.
        assert all(line.startswith("██ ") for line in legend())


async def test_manage_toggles_a_chart_that_follows_the_filters(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_manage(app, pilot)
        chart = screen.query_one("#usage-chart", UsageChart)
        assert not chart.display
        await pilot.press("c")
        await wait_for(pilot, lambda: chart.display and chart.series is not None)
        assert chart.query_one(PlotextPlot).size.height >= 5
        assert screen.query_one(TransactionTable).size.height >= 5  # the rows stay in view
        assert "Postcard" in chart.legend and "Handwritten letter" in chart.legend

        screen.query_one("#process", Select).value = "postcard"
        await wait_for(pilot, lambda: manage_settled(screen) and "Handwritten letter" not in chart.legend)
        assert "Postcard" in chart.legend
        assert list(chart.series.credits) == ["postcard"]
        expected = await app.api.daily_usage(screen.current_query)
        assert chart.series.total == sum(day.credits_used for day in expected.days)

        await pilot.press("c")
        await pilot.pause()
        assert not chart.display


async def test_manage_chart_fits_80_by_24_beside_the_rows(make_app):
    app = make_app(section="manage")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_manage(app, pilot)
        await pilot.press("c")
        chart = screen.query_one("#usage-chart", UsageChart)
        await wait_for(pilot, lambda: chart.series is not None)
        await pilot.pause()
        assert chart.query_one(PlotextPlot).size.height >= 3
        assert screen.query_one(TransactionTable).size.height >= 3


def test_a_window_of_centuries_starts_its_bars_where_the_usage_starts():
    """A custom frame from the year 1 gave a bar per month since then (24,000), and the app
    froze for a minute drawing them; the bars now start with the first day used."""
    usage = DailyUsage(days=[
        DailyUsageDay(date=date(2025, 11, 3), process_type="postcard", credits_used=Decimal("3.75"), quantity=3),
        DailyUsageDay(date=date(2026, 11, 20), process_type="postcard", credits_used=Decimal("1.25"), quantity=1),
    ])
    series = usage_series(usage, date(1, 1, 1), date(2026, 11, 29), ["postcard"])
    assert series.unit == "week"  # 13 months of usage: a bar a week, from the first one's Monday
    assert series.starts[0] == date(2025, 11, 3) and series.starts[-1] == date(2026, 11, 23)
    assert series.total == Decimal("5.00")
    nothing = usage_series(DailyUsage(days=[]), date(1, 1, 1), date(2026, 11, 29))
    assert len(nothing.starts) == 1 and nothing.total == 0
    # A window that fits the bars keeps its own start, days without usage included.
    assert usage_series(usage, date(2026, 10, 31), date(2026, 11, 29)).starts[0] == date(2026, 10, 31)
