"""Aggregates over the events a rule counts: mergeable in any order, so batches agree.

Every piece of state here is a commutative, associative merge of the events it has
seen: a batch applied now, a late event applied tomorrow and a recomputation from the
whole history all reach the same values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

AGGREGATES = ("count", "sum", "avg", "min", "max", "distinct_days", "streak")
# Aggregates that read a payload field.
FIELD_AGGREGATES = ("sum", "avg", "min", "max")
# Aggregates whose value can fall as events arrive: decided when their window closes.
AT_CLOSE = ("avg", "min")
# Aggregates computed from per-day (or per-week) buckets rather than the window's total.
BUCKETED = ("distinct_days", "streak")

# (occurred_at, event_id): events are ordered by when they happened, then by id.
Mark = tuple[datetime, str]


@dataclasses.dataclass(slots=True)
class Agg:
    """What a set of events adds up to: count, sum, least, greatest, first and last."""

    n: int
    total: float
    lo: float
    hi: float
    first: Mark
    last: Mark

    @classmethod
    def of(cls, value: float, mark: Mark) -> Agg:
        """The aggregate of one event."""
        return cls(1, value, value, value, mark, mark)

    def merge(self, other: Agg) -> None:
        """Adds `other`'s events to these."""
        # Comparisons rather than min() and max(): this runs for every event a rule counts.
        self.n += other.n
        self.total += other.total
        if other.lo < self.lo:
            self.lo = other.lo
        if other.hi > self.hi:
            self.hi = other.hi
        if other.first < self.first:
            self.first = other.first
        if other.last > self.last:
            self.last = other.last

    def add(self, value: float, mark: Mark) -> None:
        """Adds one event: as merging `Agg.of(value, mark)`, without making it."""
        self.n += 1
        self.total += value
        if value < self.lo:
            self.lo = value
        if value > self.hi:
            self.hi = value
        if mark < self.first:
            self.first = mark
        if mark > self.last:
            self.last = mark

    def copy(self) -> Agg:
        """An independent copy."""
        return Agg(self.n, self.total, self.lo, self.hi, self.first, self.last)


def merged(aggs: Iterable[Agg]) -> Agg | None:
    """The aggregate of all `aggs` together (None for none)."""
    out: Agg | None = None
    for a in aggs:
        if out is None:
            out = a.copy()
        else:
            out.merge(a)
    return out


def scalar(aggregate: str, agg: Agg) -> float:
    """The value of a count, sum, avg, min or max aggregate."""
    if aggregate == "count":
        return float(agg.n)
    if aggregate == "sum":
        return agg.total
    if aggregate == "avg":
        return agg.total / agg.n
    if aggregate == "min":
        return agg.lo
    if aggregate == "max":
        return agg.hi
    raise ValueError(f"{aggregate!r} is not a scalar aggregate")


def longest_run(
    buckets: Iterable[date], unit: str, working_days: frozenset[int]
) -> tuple[int, date | None, date | None]:
    """The longest run of consecutive qualifying days (or weeks) among `buckets`.

    Days outside `working_days` are skipped: they neither count nor break a daily run.
    Ties go to the earliest run, so the answer does not depend on the order of arrival.

    Returns:
        The run's length and its first and last bucket (None, None for no buckets).
    """
    best: tuple[int, date | None, date | None] = (0, None, None)
    length, start, prev = 0, date.min, None
    days = set(buckets)
    if unit == "day" and working_days:
        days = {d for d in days if d.weekday() in working_days}
    for b in sorted(days):
        if prev is not None and _next(prev, unit, working_days) == b:
            length += 1
        else:
            length, start = 1, b
        prev = b
        if length > best[0]:
            best = (length, start, b)
    return best


def _next(bucket: date, unit: str, working_days: frozenset[int]) -> date:
    if unit == "week":
        return bucket + timedelta(days=7)
    day = bucket + timedelta(days=1)
    if working_days:
        while day.weekday() not in working_days:
            day += timedelta(days=1)
    return day


def best_rolling(
    aggregate: str, days: Mapping[date, Agg], length: int, min_per_day: int
) -> tuple[float, date | None, Agg | None]:
    """The best value of a rolling window of `length` days over per-day aggregates.

    Every window that holds a counted day is considered; ties go to the earliest.

    Returns:
        The best value, the last day of its window and the window's merged aggregate.
    """
    best: tuple[float, date | None, Agg | None] = (0.0, None, None)
    for end in sorted(days):
        inside = [days[d] for d in days if end - timedelta(days=length - 1) <= d <= end]
        agg = days[end].copy()
        for a in inside:
            if a is not days[end]:
                agg.merge(a)
        if aggregate == "distinct_days":
            value = float(sum(a.n >= min_per_day for a in inside))
        else:
            value = scalar(aggregate, agg)
        if best[1] is None or value > best[0]:
            best = (value, end, agg)
    return best
