"""Windows are the agent's own days, weeks, months and quarters, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from accolade.rules import calendar
from accolade.rules.memory import MemoryState
from accolade.rules.tests.kit import badge, program, survey_at
from accolade.v1 import events_pb2

# For each zone, a day on which its clocks change in 2026, and which way.
DST_DAYS = {
    "America/New_York": date(2026, 3, 8),  # spring forward, Sunday
    "Europe/Berlin": date(2026, 10, 25),  # fall back, Sunday
    "Australia/Sydney": date(2026, 4, 5),  # fall back (southern autumn), Sunday
}


@pytest.mark.parametrize("zone_name", sorted(DST_DAYS))
def test_an_event_at_2330_local_counts_in_that_local_day_and_week(zone_name: str) -> None:
    tz = ZoneInfo(zone_name)
    day = DST_DAYS[zone_name]
    # 23:30 on the day the clocks change, and 00:30 the day after: one of them falls on
    # another day in UTC in every one of these zones.
    at = datetime(day.year, day.month, day.day, 23, 30, tzinfo=tz)
    after = at + timedelta(hours=1)
    assert after.astimezone(tz).hour == 0
    assert {at.astimezone(UTC).date(), after.astimezone(UTC).date()} != {day, day + timedelta(1)}
    daily = badge("daily", event="survey_submitted", window="day", repeat="every_window")
    weekly = badge("weekly", event="survey_submitted", window="week", repeat="every_window")
    monthly = badge("monthly", event="survey_submitted", window="month", repeat="every_window")
    state = MemoryState()
    agent = events_pb2.AgentUpdated(time_zone=zone_name)
    made = state.apply(
        [survey_at("a", at.astimezone(UTC), 5), survey_at("a", after.astimezone(UTC), 5)],
        {"t": program(daily, weekly, monthly)},
        {("t", "a"): agent},
        now=at.astimezone(UTC),
    )
    assert sorted(a.key[3] for a in made if a.rule.badge_id == "daily") == [
        day,
        day + timedelta(days=1),
    ]
    by_badge = {a.rule.badge_id: a for a in made if a.key[3] <= day}
    assert by_badge["daily"].key[3] == day
    assert by_badge["daily"].standing.agg.n == 1
    # The tenant's weeks start on Monday: the Sunday belongs to the week before it.
    assert by_badge["weekly"].key[3] == day - timedelta(days=6)
    assert by_badge["monthly"].key[3] == day.replace(day=1)
    # The window's bounds are local midnights, 23, 24 or 25 hours apart on such a day.
    s = by_badge["daily"].standing
    assert s.start == datetime(day.year, day.month, day.day, tzinfo=tz)
    assert s.end == datetime.combine(day + timedelta(days=1), datetime.min.time(), tz)
    assert s.start is not None and s.end is not None
    hours = (s.end - s.start).total_seconds() / 3600
    assert hours == {"America/New_York": 23, "Europe/Berlin": 25, "Australia/Sydney": 25}[zone_name]


def test_three_agents_in_three_zones_see_one_instant_on_their_own_days() -> None:
    at = datetime(2026, 3, 8, 4, 30, tzinfo=UTC)  # 23:30 in New York the day before
    rule = badge("daily", event="survey_submitted", window="day", repeat="every_window")
    agents = {("t", z): events_pb2.AgentUpdated(time_zone=z) for z in DST_DAYS}
    state = MemoryState()
    made = state.apply(
        [survey_at(z, at, 5) for z in DST_DAYS], {"t": program(rule)}, agents, now=at
    )
    days = {a.key[1]: a.key[3] for a in made}
    assert days == {
        "America/New_York": date(2026, 3, 7),
        "Europe/Berlin": date(2026, 3, 8),
        "Australia/Sydney": date(2026, 3, 8),
    }


def test_a_week_starts_on_the_tenants_chosen_day() -> None:
    wednesday = date(2026, 12, 2)
    assert calendar.window_start(wednesday, "week", 0) == date(2026, 11, 30)  # Monday
    assert calendar.window_start(wednesday, "week", 6) == date(2026, 11, 29)  # Sunday
    assert calendar.window_start(wednesday, "quarter", 0) == date(2026, 10, 1)
    assert calendar.window_end(date(2026, 10, 1), "quarter") == date(2027, 1, 1)
    assert calendar.window_end(date(2026, 12, 1), "month") == date(2027, 1, 1)


@pytest.mark.parametrize("name", ["Mars/Olympus", "europe/paris", "../etc/passwd", "", "EST5"])
def test_only_iana_names_are_time_zones(name: str) -> None:
    with pytest.raises(ValueError, match="IANA"):
        calendar.zone(name)
    assert calendar.zone("Europe/Paris").key == "Europe/Paris"
