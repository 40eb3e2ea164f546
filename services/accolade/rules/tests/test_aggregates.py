"""Streaks and rolling windows, on cases whose answer is known by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from accolade.rules.aggregates import Agg, best_rolling, longest_run

WEEKDAYS = frozenset(range(5))
THU, FRI, SAT, SUN, MON = (date(2026, 1, d) for d in (1, 2, 3, 4, 5))


def test_a_weekend_off_neither_breaks_nor_extends_a_daily_streak() -> None:
    assert longest_run([THU, FRI, MON], "day", WEEKDAYS)[0] == 3
    # Working on Saturday too is not a day more of the streak, nor a break in it.
    assert longest_run([THU, FRI, SAT, MON], "day", WEEKDAYS) == (3, THU, MON)
    # Missing Friday, a working day, breaks it.
    assert longest_run([THU, MON], "day", WEEKDAYS)[0] == 1
    # Every day scheduled: the weekend counts and a gap breaks.
    assert longest_run([THU, FRI, SAT, MON], "day", frozenset(range(7))) == (3, THU, SAT)


def test_a_weekly_streak_counts_consecutive_weeks_and_ties_go_to_the_earliest() -> None:
    mondays = [date(2026, 1, 5) + timedelta(weeks=w) for w in (0, 1, 3, 4)]
    assert longest_run(mondays, "week", WEEKDAYS) == (2, mondays[0], mondays[1])
    assert longest_run([], "week", WEEKDAYS) == (0, None, None)


def test_the_best_rolling_week_is_found_and_explained() -> None:
    def at(d: date) -> tuple[datetime, str]:
        return (datetime(d.year, d.month, d.day, 12, tzinfo=UTC), str(d))

    days = {
        date(2026, 1, 1): Agg.of(1, at(date(2026, 1, 1))),
        date(2026, 1, 6): Agg.of(1, at(date(2026, 1, 6))),
        date(2026, 1, 9): Agg.of(1, at(date(2026, 1, 9))),
    }
    days[date(2026, 1, 9)].merge(Agg.of(1, at(date(2026, 1, 9))))
    value, end, agg = best_rolling("count", days, 7, 1)
    # Jan 3-9 holds three events; Jan 1-7 only two.
    assert (value, end) == (3.0, date(2026, 1, 9))
    assert agg is not None and agg.first == at(date(2026, 1, 6)) and agg.n == 3
    assert best_rolling("distinct_days", days, 7, 2)[0] == 1.0
