"""Where the credits go: usage per day and process type (DESIGN.md §9).

Every answer is held against the usage transactions the transaction list returns for the
same filters, summed per UTC day and process type (the units from the ledger rows, which
the wire's transactions do not carry).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from credits_tui.api_client.models import DailyUsage
from credits_tui.backend.db.schema import DailyTotal, DailyUsageTotal, LedgerTransaction
from tests.support.backend import migrate_down_and_up

MONEY = re.compile(r"^\d+\.\d{2}$")
PROCESS_TYPES = ["postcard", "handwritten_letter", "smart_match", "zoominfo_people_search",
                 "premium_audio_transcription"]
USERS = [None, "admin@demo.example", "support@demo.example", "usage-bot@demo.example"]
NOW = datetime.now(timezone.utc)
MIDNIGHT = datetime.combine(NOW.date(), datetime.min.time(), tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def walk(client, params: list[tuple[str, str]]) -> list[dict]:
    items, cursor = [], None
    while True:
        response = client.get("/credits/transactions",
                              params=params + [("limit", "500")] + ([("cursor", cursor)] if cursor else []))
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


def daily(client, params: list[tuple[str, str]]) -> dict:
    response = client.get("/credits/usage/daily", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert DailyUsage.model_validate(body).model_dump(mode="json") == body, "exactly the wire model"
    assert body["currency"] == "credits"
    assert all(MONEY.match(day["credits_used"]) for day in body["days"]), body
    keys = [(day["date"], day["process_type"]) for day in body["days"]]
    assert keys == sorted(set(keys)), "one entry per day and process type, oldest first"
    return body


def expected(database, client, params: list[tuple[str, str]]) -> list[dict]:
    """The usage rows the transaction list returns for these filters, summed per day and type."""
    usage_params = [p for p in params if p[0] != "transaction_type"] + [("transaction_type", "usage")]
    types = {value for name, value in params if name == "transaction_type"}
    rows = walk(client, usage_params) if not types or "usage" in types else []
    with database.read() as session:
        quantities = dict(session.execute(
            select(LedgerTransaction.id, LedgerTransaction.quantity)
            .where(LedgerTransaction.id.in_([row["id"] for row in rows]))).all())
    totals: dict[tuple[str, str], list] = defaultdict(lambda: [Decimal("0.00"), 0])
    for row in rows:
        key = (row["created_at"][:10], row["process_type"])  # the UTC day of a ...Z time
        totals[key][0] -= Decimal(row["amount"])
        totals[key][1] += quantities[row["id"]] or 0
    return [{"date": day, "process_type": process_type, "credits_used": f"{used:.2f}", "quantity": quantity}
            for (day, process_type), (used, quantity) in sorted(totals.items())]


# Window bounds: a minute either side of a transaction (so the partial first and last days
# hold rows), any minute of the demo's 395 days, a midnight, or none.
def bounds(times: list[datetime]) -> st.SearchStrategy[datetime | None]:
    near_a_row = st.builds(lambda at, minutes: at + timedelta(minutes=minutes), st.sampled_from(times),
                           st.integers(-1, 1))
    anywhere = st.builds(lambda days, minutes: NOW - timedelta(days=days, minutes=minutes),
                         st.integers(0, 400), st.integers(0, 24 * 60 - 1))
    midnight = st.builds(lambda days: datetime.combine((NOW - timedelta(days=days)).date(), datetime.min.time(),
                                                       tzinfo=timezone.utc), st.integers(0, 400))
    return st.one_of(st.none(), near_a_row, near_a_row, anywhere, midnight)


@st.composite
def filters(draw, times: list[datetime]) -> list[tuple[str, str]]:
    since, until = draw(bounds(times)), draw(bounds(times))
    if since and until and since >= until:
        since, until = until, since
    if since == until:
        until = None
    params = [("since", iso(since))] if since else []
    params += [("until", iso(until))] if until else []
    params += [("process_type", p) for p in draw(st.lists(st.sampled_from(PROCESS_TYPES), max_size=2, unique=True))]
    if user := draw(st.sampled_from(USERS)):
        params.append(("user", user))
    params += [("transaction_type", t) for t in draw(st.sampled_from([[], [], ["usage"], ["purchase"],
                                                                      ["usage", "refund"]]))]
    if draw(st.integers(0, 5)) == 0:
        params.append(("q", draw(st.sampled_from(["postcard", "campaign", "letter 3", "zzzz"]))))
    return params


_WITH_TODAY: set[int] = set()


@pytest.fixture
def admin(module_api):
    # Today gets several usage rows through the ledger's own path, so partial days hold more than one.
    if id(module_api) not in _WITH_TODAY:
        bot = module_api.signed("usage-bot@demo.example")
        for process_type, quantity in [("postcard", 3), ("postcard", 2), ("zoominfo_people_search", 1),
                                       ("handwritten_letter", 2)]:
            response = bot.post("/credits/usage", json={"process_type": process_type, "quantity": quantity})
            assert response.status_code == 201, response.text
        _WITH_TODAY.add(id(module_api))
    return module_api.signed("admin@demo.example")


@pytest.fixture
def usage_times(module_api, admin) -> list[datetime]:
    return [datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
            for row in walk(admin, [("transaction_type", "usage")])]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_daily_usage_is_the_sum_of_the_matching_usage_transactions(module_api, admin, usage_times, data):
    params = data.draw(filters(usage_times), label="filters")
    assert daily(admin, params)["days"] == expected(module_api.database, admin, params)


def test_the_whole_history_and_today(module_api, admin):
    days = daily(admin, [])["days"]
    assert days == expected(module_api.database, admin, [])
    assert len({day["process_type"] for day in days}) >= 3 and len(days) > 20
    today = {d["process_type"]: d for d in days if d["date"] == NOW.date().isoformat()}
    assert today["postcard"]["quantity"] >= 5  # both of today's postcard rows, in one entry


def test_support_may_read_it_and_a_member_may_not(module_api, admin):
    support = module_api.signed("support@demo.example")
    assert daily(support, []) == daily(admin, [])
    member = module_api.signed("member@demo.example")
    response = member.get("/credits/usage/daily")
    assert response.status_code == 403 and response.json()["error"]["code"] == "admin_required"


def test_another_account_sees_only_its_own_usage(module_api):
    other = module_api.signed("other-admin@demo.example")
    own_usage = walk(other, [("transaction_type", "usage")])
    days = daily(other, [])["days"]
    assert own_usage, "the demo gives Other Co. some usage of its own"
    assert sum(Decimal(d["credits_used"]) for d in days) == -sum(Decimal(t["amount"]) for t in own_usage)
    admin_days = daily(module_api.signed("admin@demo.example"), [])["days"]
    assert sum(d["quantity"] for d in days) < sum(d["quantity"] for d in admin_days)


@pytest.mark.parametrize(("params", "code"), [
    ({"since": "2026-03-01", "until": "2026-02-01"}, "invalid_time_range"),
    ({"process_type": "fax"}, "unknown_process_type"),
    ({"user": "nobody@demo.example"}, "unknown_user"),
    ({"q": "---"}, "invalid_q"),
    ({"since": "6"}, "invalid_since"),
])
def test_bad_filters_are_refused_as_for_transactions(module_api, admin, params, code):
    response = admin.get("/credits/usage/daily", params=params)
    assert response.status_code == 422 and response.json()["error"]["code"] == code, response.text


def test_the_migration_fills_the_units_of_existing_aggregates(api):
    """0004 adds the column to a database that has history: the units are summed from the rows."""
    columns = (DailyTotal.account_id, DailyTotal.day, DailyTotal.transaction_type, DailyTotal.process_type,
               DailyTotal.user_id, DailyTotal.quantity)
    with api.database.read() as session:
        before = session.execute(select(*columns).order_by(*DailyTotal.__table__.primary_key.columns)).all()
    assert sum(row.quantity for row in before) > 0
    migrate_down_and_up(api.database, "0003")
    with api.database.read() as session:
        after = session.execute(select(*columns).order_by(*DailyTotal.__table__.primary_key.columns)).all()
    assert after == before


def rollup(database) -> dict[tuple[int, str, str], tuple[int, int]]:
    with database.read() as session:
        return {(row.account_id, row.day.isoformat(), row.process_type): (row.used_cents, row.quantity)
                for row in session.scalars(select(DailyUsageTotal))}


def ledger_usage(database) -> dict[tuple[int, str, str], tuple[int, int]]:
    """The usage rows of the ledger, summed per account, UTC day and process type in Python."""
    totals: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])
    with database.read() as session:
        for row in session.scalars(select(LedgerTransaction).where(LedgerTransaction.transaction_type == "usage")):
            bucket = totals[(row.account_id, row.created_at.date().isoformat(), row.process_type)]
            bucket[0] -= row.amount_cents
            bucket[1] += row.quantity or 0
    return {key: (used, quantity) for key, (used, quantity) in totals.items()}


def test_the_demo_and_every_append_keep_the_rollup_equal_to_the_ledger(api):
    """The chart reads the rollup: seeded history and live usage must both land in it."""
    assert rollup(api.database) == ledger_usage(api.database)
    bot = api.as_user("usage-bot@demo.example")
    for process_type, quantity in [("postcard", 4), ("smart_match", 1), ("postcard", 1)]:
        assert bot.post("/credits/usage", json={"process_type": process_type, "quantity": quantity}).status_code == 201
    assert rollup(api.database) == ledger_usage(api.database)


def test_the_migration_fills_the_rollup_from_existing_history(api):
    """0007 creates the rollup on a database that has history: summed from the day aggregates."""
    expected_rollup = ledger_usage(api.database)
    assert len({account for account, _, _ in expected_rollup}) == 2, "both demo accounts have usage"
    migrate_down_and_up(api.database, "0006")
    assert rollup(api.database) == expected_rollup
    admin = api.as_user("admin@demo.example")
    assert daily(admin, [])["days"] == expected(api.database, admin, [])


def test_units_are_kept_with_every_append(api):
    """The live path (POST /credits/usage → ledger.append) adds to the day's units."""
    admin = api.as_user("admin@demo.example")
    today = [("since", iso(datetime.combine(NOW.date(), datetime.min.time(), tzinfo=timezone.utc)))]

    def postcards() -> int:
        return sum(d["quantity"] for d in daily(admin, [*today, ("process_type", "postcard")])["days"])

    before = postcards()
    assert admin.post("/credits/usage", json={"process_type": "postcard", "quantity": 7}).status_code == 201
    assert postcards() == before + 7


# Windows that pick each way of reading: whole days only (the rollup, or the per-user
# aggregates), partial first and last days around them, a window inside one day, free text.
SHAPES = {
    "whole days": [("since", iso(MIDNIGHT - timedelta(days=40))), ("until", iso(MIDNIGHT - timedelta(days=10)))],
    "whole days up to now": [("since", iso(MIDNIGHT - timedelta(days=30)))],
    "midday to midday": [("since", iso(MIDNIGHT - timedelta(days=40, hours=-13, minutes=-7))),
                         ("until", iso(MIDNIGHT - timedelta(days=10, hours=-9, seconds=-1)))],
    "midday to a moment today": [("since", iso(MIDNIGHT - timedelta(days=3, hours=-17))),
                                 ("until", iso(NOW - timedelta(seconds=1)))],
    "inside one day": [("since", iso(MIDNIGHT - timedelta(days=5, hours=-6))),
                       ("until", iso(MIDNIGHT - timedelta(days=5, hours=-18)))],
    # Whole days from a midnight, then half a day: five and a half days, as 36 hours of the demo's
    # history can hold no usage at all (on 29 November the window over 30 September had none).
    "one midnight to a midday": [("since", iso(MIDNIGHT - timedelta(days=60))),
                                 ("until", iso(MIDNIGHT - timedelta(days=55, hours=-12)))],
    "free text": [("since", iso(MIDNIGHT - timedelta(days=20, hours=-5))), ("q", "postcard")],
}
FILTERS = {
    "no filter": [],
    "process types": [("process_type", "postcard"), ("process_type", "smart_match")],
    "user": [("user", "admin@demo.example")],
    "user and process type": [("user", "usage-bot@demo.example"), ("process_type", "postcard")],
    "usage and refund": [("transaction_type", "usage"), ("transaction_type", "refund")],
}


@pytest.mark.parametrize("filter_name", FILTERS)
@pytest.mark.parametrize("shape", SHAPES)
def test_each_way_of_reading_sums_the_matching_usage(module_api, admin, shape, filter_name):
    params = SHAPES[shape] + FILTERS[filter_name]
    days = daily(admin, params)["days"]
    assert days == expected(module_api.database, admin, params)
    if filter_name == "no filter" and shape != "inside one day":
        assert days, "the demo has usage in this window: an empty answer would prove nothing"


def test_todays_usage_shows_at_once_with_and_without_a_user_filter(api):
    """A usage row lands in the rollup (no user filter) and the per-user aggregates alike."""
    admin = api.as_user("admin@demo.example")
    today = [("since", iso(MIDNIGHT)), ("process_type", "smart_match")]
    by_bot = [*today, ("user", "usage-bot@demo.example")]

    def used(params: list[tuple[str, str]]) -> tuple[Decimal, int]:
        days = daily(admin, params)["days"]
        return sum((Decimal(d["credits_used"]) for d in days), Decimal(0)), sum(d["quantity"] for d in days)

    before, bot_before = used(today), used(by_bot)
    answer = api.as_user("usage-bot@demo.example").post("/credits/usage",
                                                        json={"process_type": "smart_match", "quantity": 3})
    assert answer.status_code == 201, answer.text
    charged = (Decimal(answer.json()["amount"]), answer.json()["charged_quantity"])
    assert charged[1] > 0, "the demo's free smart_match quota is used up, so the row is charged"
    for after, was in [(used(today), before), (used(by_bot), bot_before)]:
        assert (after[0] - was[0], after[1] - was[1]) == charged
