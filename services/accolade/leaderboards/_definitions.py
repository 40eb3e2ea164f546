"""Board definitions: checking a `kind: Leaderboard` document, and the rule it compiles to.

A board ranks agents by a metric of the events that match its condition, per period of
its time zone: the count of those events, or the sum or the average of a numeric field
of them. Conditions are the rules engine's (CEL, checked against the event's shape when
the board is applied); periods are its calendar windows.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

from accolade.rules import calendar
from accolade.rules.conditions import (
    Condition,
    numeric_field,
    read_number,
)
from accolade.rules.definitions import check_condition, check_meta
from accolade.runtime.validation import Violations
from accolade.v1 import leaderboards_service_pb2 as pb

METRICS = ("count", "sum", "avg")
DIRECTIONS = ("higher", "lower")
PERIODS = ("day", "week", "month", "quarter", "all_time")
MAX_MIN_EVENTS = 100_000


@dataclasses.dataclass(frozen=True, slots=True)
class BoardRule:
    """One version of a tenant's board, compiled.

    Attributes:
        zone: the board's own time zone, or None for the tenant's default.
        min_events: the matching events an agent needs in a period to be ranked.
    """

    board_id: str
    version: int
    effective_at: datetime
    name: str
    event: str
    condition: Condition
    metric: str
    field: str
    higher: bool
    period: str
    zone: ZoneInfo | None
    min_events: int

    def value(self, payload: object) -> float:
        """What one matching event adds to the metric's total."""
        return read_number(payload, self.field) if self.field else 1.0

    def score(self, n: int, total: float) -> float | None:
        """The agent's score from its matching events' count and total in a period, or
        None while it has fewer than `min_events` of them (not yet eligible)."""
        if n < max(1, self.min_events):
            return None
        if self.metric == "sum":
            return total
        if self.metric == "avg":
            return total / n
        return float(n)

    def period_of(self, at: datetime, default_zone: str, week_start: int) -> date:
        """The first day of the period that holds instant `at`."""
        tz = self.zone or calendar.zone(default_zone)
        return calendar.window_start(calendar.local_day(at, tz), self.period, week_start)


def check_board(v: Violations, at: str, d: pb.LeaderboardDefinition) -> None:
    """Adds a violation, named `at.<field>`, for everything wrong with `d`."""
    check_meta(v, at, d.metadata)
    s = d.spec
    if not check_condition(v, at, s.event, s.when):
        return
    metric = s.metric or "count"
    if metric not in METRICS:
        v.add(f"{at}.spec.metric", f"must be one of {', '.join(METRICS)}, not {s.metric!r}")
    elif metric == "count":
        if s.field:
            v.add(f"{at}.spec.field", "must be empty for count")
    elif not s.field:
        v.add(f"{at}.spec.field", f"is required for {metric}")
    elif (why := numeric_field(s.event, s.field)) is not None:
        v.add(f"{at}.spec.field", why)
    if (s.direction or "higher") not in DIRECTIONS:
        v.add(f"{at}.spec.direction", f"must be higher or lower, not {s.direction!r}")
    if (s.period or "day") not in PERIODS:
        v.add(f"{at}.spec.period", f"must be one of {', '.join(PERIODS)}, not {s.period!r}")
    if s.time_zone:
        try:
            calendar.zone(s.time_zone)
        except ValueError as exc:
            v.add(f"{at}.spec.time_zone", str(exc))
    if not 0 <= s.min_events <= MAX_MIN_EVENTS:
        v.add(f"{at}.spec.min_events", f"must be between 0 and {MAX_MIN_EVENTS}")


def compile_board(d: pb.LeaderboardDefinition, version: int, effective_at: datetime) -> BoardRule:
    """The rule of a checked definition."""
    s = d.spec
    return BoardRule(
        board_id=d.metadata.id,
        version=version,
        effective_at=effective_at,
        name=d.metadata.name,
        event=s.event,
        condition=Condition(s.event, s.when or "true"),
        metric=s.metric or "count",
        field=s.field,
        higher=(s.direction or "higher") == "higher",
        period=s.period or "day",
        zone=calendar.zone(s.time_zone) if s.time_zone else None,
        min_events=s.min_events,
    )
