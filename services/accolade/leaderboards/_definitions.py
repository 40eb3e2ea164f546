"""Board definitions: checking `kind: Leaderboard` and `kind: Scorecard` documents, and
the rule each compiles to.

A leaderboard ranks agents by one metric of the events that match its condition, per
period of its time zone: the count of those events, the sum or the average of a numeric
field of them, or the rate (in percent) of those whose yes-or-no field is true. A scorecard ranks them by several such metrics at once: each
metric's value falls in one of its zones, which gives it points, and the score is the
average of the points weighted by the agent's weights (their site's, their region's or
the metrics' own). Both compile to one `BoardRule` whose parts are the metrics, so the
tally, the store and the rank index treat them alike. Conditions are the rules
engine's (CEL, checked against the event's shape when the board is applied); periods
are its calendar windows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from accolade.rules import calendar
from accolade.rules.conditions import Condition, boolean_field, numeric_field, read_number
from accolade.rules.definitions import check_condition, check_meta
from accolade.runtime.validation import Violations
from accolade.v1 import leaderboards_service_pb2 as pb

METRICS = ("count", "sum", "avg", "rate")
DIRECTIONS = ("higher", "lower")
PERIODS = ("day", "week", "month", "quarter", "all_time")
MAX_MIN_EVENTS = 100_000
MAX_PARTS = 10
MAX_ZONES = 10


@dataclasses.dataclass(frozen=True, slots=True)
class Zone:
    """A range of a metric's values, from `lower` up to before `upper`, and its points."""

    name: str
    lower: float
    upper: float
    points: float


@dataclasses.dataclass(frozen=True, slots=True)
class Part:
    """One metric of a board: which events count, and what each adds.

    Attributes:
        needs: the matching events an agent needs before the metric has a value.
        zones: for a scorecard, what its values earn; empty for a leaderboard.
    """

    id: str
    name: str
    event: str
    condition: Condition
    metric: str
    field: str
    needs: int
    weight: float
    zones: tuple[Zone, ...] = ()

    def value(self, payload: object) -> float:
        """What one matching event adds to the metric's total."""
        if self.metric == "rate":
            return 1.0 if getattr(payload, self.field) else 0.0
        return read_number(payload, self.field) if self.field else 1.0

    def measure(self, n: int, total: float) -> float:
        """The metric's value from its matching events' count and total: a rate is the
        share of them, in percent, whose field is true."""
        if self.metric == "sum":
            return total
        if self.metric == "avg":
            return total / n if n else 0.0
        if self.metric == "rate":
            return 100.0 * total / n if n else 0.0
        return float(n)

    def zone_of(self, value: float) -> Zone:
        """The zone that holds `value` (the zones cover every value)."""
        for z in self.zones:
            if value < z.upper:
                return z
        return self.zones[-1]


@dataclasses.dataclass(frozen=True, slots=True)
class Explained:
    """One metric's part in an agent's score on a scorecard."""

    part: Part
    value: float
    events: int
    zone: str
    points: float
    weight: float
    contribution: float


@dataclasses.dataclass(frozen=True, slots=True)
class BoardRule:
    """One version of a tenant's leaderboard or scorecard, compiled.

    Attributes:
        zone: the board's own time zone, or None for the tenant's default.
        parts: the metrics; a leaderboard has one, whose value is the score.
        weights: for a scorecard, each part's weight by ("site" or "region", id).
    """

    board_id: str
    version: int
    effective_at: datetime
    kind: str
    name: str
    parts: tuple[Part, ...]
    higher: bool
    period: str
    zone: ZoneInfo | None
    weights: Mapping[tuple[str, str], tuple[float, ...]] = dataclasses.field(default_factory=dict)

    @property
    def scorecard(self) -> bool:
        return self.kind == "Scorecard"

    def parts_for(self, event: str) -> list[int]:
        """The positions of the parts that count events of type `event`."""
        return [i for i, p in enumerate(self.parts) if p.event == event]

    def needed(self, n: Sequence[int]) -> int:
        """How many more matching events the agent needs, over all parts, to be ranked."""
        return sum(max(0, p.needs - _at(n, i)) for i, p in enumerate(self.parts))

    def weights_of(self, site: str, region: str) -> tuple[float, ...]:
        """The parts' weights for an agent of `site` and `region`."""
        return (
            self.weights.get(("site", site))
            or self.weights.get(("region", region))
            or tuple(p.weight for p in self.parts)
        )

    def score(
        self, n: Sequence[int], total: Sequence[float], site: str = "", region: str = ""
    ) -> float | None:
        """The agent's score from each part's count and total of matching events in a
        period, or None while not yet eligible (`needed`)."""
        if self.needed(n):
            return None
        if not self.scorecard:
            return self.parts[0].measure(_at(n, 0), _at(total, 0))
        weights = self.weights_of(site, region)
        points = (
            p.zone_of(p.measure(_at(n, i), _at(total, i))).points for i, p in enumerate(self.parts)
        )
        # One division, so that equal weighted sums are equal scores: ties stay ties.
        return sum(x * w for x, w in zip(points, weights, strict=True)) / sum(weights)

    def explain(
        self, n: Sequence[int], total: Sequence[float], site: str, region: str
    ) -> list[Explained]:
        """Each part's value, zone, points and weight: the contributions add up to the
        score of a scorecard."""
        weights = self.weights_of(site, region)
        whole = sum(weights)
        out = []
        for i, p in enumerate(self.parts):
            value = p.measure(_at(n, i), _at(total, i))
            zone = p.zone_of(value)
            out.append(
                Explained(
                    p, value, _at(n, i), zone.name, zone.points, weights[i],
                    zone.points * weights[i] / whole,
                )
            )  # fmt: skip
        return out

    def period_of(self, at: datetime, default_zone: str, week_start: int) -> date:
        """The first day of the period that holds instant `at`."""
        tz = self.zone or calendar.zone(default_zone)
        return calendar.window_start(calendar.local_day(at, tz), self.period, week_start)

    def period_end(self, period: date) -> date | None:
        """The day after the last of the period starting on `period` (None: all time)."""
        return calendar.window_end(period, self.period)

    def ends_at(self, period: date, default_zone: str) -> datetime | None:
        """When the period starting on `period` ends, in the board's zone (None: an
        all-time board never ends). It closes the tenant's lateness later."""
        tz = self.zone or calendar.zone(default_zone)
        return calendar.window_bounds(period, self.period, tz)[1]


def _at(values: Sequence[float], i: int) -> int:
    return values[i] if i < len(values) else 0  # type: ignore[return-value]


def _check_metric(
    v: Violations, at: str, event: str, when: str, metric: str, field: str, min_events: int
) -> None:
    """The checks a leaderboard's spec and each metric of a scorecard share."""
    if not check_condition(v, at, event, when):
        return
    metric = metric or "count"
    if metric not in METRICS:
        v.add(f"{at}.metric", f"must be one of {', '.join(METRICS)}, not {metric!r}")
    elif metric == "count":
        if field:
            v.add(f"{at}.field", "must be empty for count")
    elif not field:
        v.add(f"{at}.field", f"is required for {metric}")
    elif why := (boolean_field if metric == "rate" else numeric_field)(event, field):
        v.add(f"{at}.field", why)
    if not 0 <= min_events <= MAX_MIN_EVENTS:
        v.add(f"{at}.min_events", f"must be between 0 and {MAX_MIN_EVENTS}")


def _check_period(v: Violations, at: str, period: str, time_zone: str) -> None:
    if period and period not in PERIODS:
        v.add(f"{at}.period", f"must be one of {', '.join(PERIODS)}, not {period!r}")
    if time_zone:
        try:
            calendar.zone(time_zone)
        except ValueError as exc:
            v.add(f"{at}.time_zone", str(exc))


def check_board(v: Violations, at: str, d: pb.LeaderboardDefinition) -> None:
    """Adds a violation, named `at.<field>`, for everything wrong with `d`."""
    check_meta(v, at, d.metadata)
    s = d.spec
    _check_metric(v, f"{at}.spec", s.event, s.when, s.metric, s.field, s.min_events)
    if (s.direction or "higher") not in DIRECTIONS:
        v.add(f"{at}.spec.direction", f"must be higher or lower, not {s.direction!r}")
    _check_period(v, f"{at}.spec", s.period, s.time_zone)


def check_scorecard(v: Violations, at: str, d: pb.ScorecardDefinition) -> None:
    """Adds a violation, named `at.<field>`, for everything wrong with `d`."""
    check_meta(v, at, d.metadata)
    s = d.spec
    _check_period(v, f"{at}.spec", s.period, s.time_zone)
    if not 1 <= len(s.metrics) <= MAX_PARTS:
        v.add(f"{at}.spec.metrics", f"must hold 1 to {MAX_PARTS} metrics, not {len(s.metrics)}")
    ids: set[str] = set()
    for i, m in enumerate(s.metrics):
        here = f"{at}.spec.metrics[{i}]"
        v.identifier(f"{here}.id", m.id)
        if m.id in ids:
            v.add(f"{here}.id", f"{m.id!r} is another metric's id too")
        ids.add(m.id)
        _check_metric(v, here, m.event, m.when, m.metric, m.field, m.min_events)
        if m.weight < 0 or not math.isfinite(m.weight):
            v.add(f"{here}.weight", f"must be above 0 (0 means 1), not {m.weight}")
        _check_zones(v, here, m.zones)
    for i, w in enumerate(s.weights):
        here = f"{at}.spec.weights[{i}]"
        if bool(w.region_id) == bool(w.site_id):
            v.add(here, "must name exactly one of region_id and site_id")
        for metric, weight in sorted(w.weights.items()):
            if metric not in ids:
                v.add(f"{here}.weights[{metric}]", f"no metric {metric!r}")
            elif weight < 0 or not math.isfinite(weight):
                v.add(f"{here}.weights[{metric}]", f"must not be negative, not {weight}")
        if ids and not any(_weight(m, w) for m in s.metrics):
            v.add(f"{here}.weights", "must leave some metric a weight above 0")


def _check_zones(v: Violations, at: str, zones: Sequence[pb.ScoreZone]) -> None:
    """The zones must cover every value, in ascending order, each from where the one
    before ends."""
    if not 1 <= len(zones) <= MAX_ZONES:
        v.add(f"{at}.zones", f"must hold 1 to {MAX_ZONES} zones, not {len(zones)}")
        return
    for k, z in enumerate(zones):
        here = f"{at}.zones[{k}]"
        if not z.name.strip():
            v.add(f"{here}.name", "is required")
        if not math.isfinite(z.points):
            v.add(f"{here}.points", "must be a number")
        if k == 0 and z.HasField("lower"):
            v.add(f"{here}.lower", "must be unset: the first zone holds every lower value")
        if k > 0 and (not z.HasField("lower") or z.lower != zones[k - 1].upper):
            v.add(f"{here}.lower", "must be where the zone before ends (its upper)")
        last = k == len(zones) - 1
        if last and z.HasField("upper"):
            v.add(f"{here}.upper", "must be unset: the last zone holds every higher value")
        if not last and not z.HasField("upper"):
            v.add(f"{here}.upper", "is required but for the last zone")
        if z.HasField("lower") and z.HasField("upper") and not z.lower < z.upper:
            v.add(f"{here}.upper", f"must be above lower ({z.lower}), not {z.upper}")


def _weight(m: pb.ScorecardMetric, w: pb.ScorecardWeights | None = None) -> float:
    if w is not None and m.id in w.weights:
        return w.weights[m.id]
    return m.weight or 1.0


def compile_board(d: pb.LeaderboardDefinition, version: int, effective_at: datetime) -> BoardRule:
    """The rule of a checked leaderboard."""
    s = d.spec
    metric = s.metric or "count"
    part = Part(
        id="value",
        name=d.metadata.name,
        event=s.event,
        condition=Condition(s.event, s.when or "true"),
        metric=metric,
        field=s.field,
        needs=max(1, s.min_events),
        weight=1.0,
    )
    return BoardRule(
        board_id=d.metadata.id,
        version=version,
        effective_at=effective_at,
        kind="Leaderboard",
        name=d.metadata.name,
        parts=(part,),
        higher=(s.direction or "higher") == "higher",
        period=s.period or "day",
        zone=calendar.zone(s.time_zone) if s.time_zone else None,
    )


def compile_scorecard(d: pb.ScorecardDefinition, version: int, effective_at: datetime) -> BoardRule:
    """The rule of a checked scorecard."""
    s = d.spec
    parts = tuple(
        Part(
            id=m.id,
            name=m.name or m.id,
            event=m.event,
            condition=Condition(m.event, m.when or "true"),
            metric=m.metric or "count",
            field=m.field,
            # An average or a rate of no events has no value; a count or a sum of none is 0.
            needs=max(m.min_events, 1 if m.metric in ("avg", "rate") else 0),
            weight=_weight(m),
            zones=tuple(
                Zone(
                    z.name,
                    z.lower if z.HasField("lower") else -math.inf,
                    z.upper if z.HasField("upper") else math.inf,
                    z.points,
                )
                for z in m.zones
            ),
        )
        for m in s.metrics
    )
    weights = {
        ("site", w.site_id) if w.site_id else ("region", w.region_id): tuple(
            _weight(m, w) for m in s.metrics
        )
        for w in s.weights
    }
    return BoardRule(
        board_id=d.metadata.id,
        version=version,
        effective_at=effective_at,
        kind="Scorecard",
        name=d.metadata.name,
        parts=parts,
        higher=True,
        period=s.period or "week",
        zone=calendar.zone(s.time_zone) if s.time_zone else None,
        weights=weights,
    )
