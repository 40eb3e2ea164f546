"""What a program should award, computed from all events at once, without the engine.

Written from the semantics in docs/programs.md: each badge's condition as a Python
predicate (one per starter badge), windows from zoneinfo, aggregates by plain arithmetic.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import envelope_pb2
from accolade.v1 import leaderboards_service_pb2 as lb

ALL_TIME = date(1970, 1, 1)

# The starter program's conditions, said again in Python.
PREDICATES: dict[str, Callable[[Any], bool]] = {
    "first-resolution": lambda p: p.resolved_first_contact,
    "five-stars": lambda p: p.csat == 5,
    "csat-champion": lambda p: p.csat == 5,
    "fcr-streak": lambda p: p.resolved_first_contact,
    "fcr-day": lambda p: p.resolved_first_contact,
    "fcr-week": lambda p: p.resolved_first_contact,
    "no-transfer-week": lambda p: not p.transferred,
    "quick-and-right": lambda p: p.resolved_first_contact and p.handle_time.seconds < 300,
    "chat-specialist": lambda p: p.channel == 2 and p.resolved_first_contact,
    "email-expert": lambda p: p.channel == 3 and p.resolved_first_contact,
    "voice-veteran": lambda p: p.channel == 1,
    "career-interactions": lambda p: True,
    "hours-on-the-line": lambda p: True,
    "kind-words": lambda p: p.csat >= 4 and len(p.comment) > 0,
    "delight-week": lambda p: True,
    "delight-month": lambda p: True,
    "never-below-four": lambda p: True,
    "five-star-streak": lambda p: p.csat == 5,
    "steady-weeks": lambda p: p.resolved_first_contact,
    "hot-week": lambda p: p.csat == 5,
    "present-month": lambda p: True,
    "glowing-reviews": lambda p: p.csat == 5 and len(p.comment) >= 40,
    "nps-promoter": lambda p: p.HasField("nps") and p.nps >= 9,
    "qa-excellence": lambda p: p.score >= 90,
    "adherence-streak": lambda p: p.adherence_percent >= 95,
    "training-path": lambda p: p.score >= 80,
    "certification-ladder": lambda p: True,
    "night-shift-hero": lambda p: p.name == "night_shift_hours",
    "trusted-resolver": lambda p: p.resolved_first_contact,
}


def _start(day: date, window: str) -> date:
    if window == "day":
        return day
    if window == "week":
        return day - timedelta(days=day.weekday())
    if window == "month":
        return day.replace(day=1)
    if window == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return ALL_TIME


def _end(start: date, window: str) -> date:
    if window == "day":
        return start + timedelta(days=1)
    if window == "week":
        return start + timedelta(days=7)
    months = 1 if window == "month" else 3
    m = start.month - 1 + months
    return date(start.year + m // 12, m % 12 + 1, 1)


def _number(p: Any, field: str) -> float:
    value = getattr(p, field) if field else 1
    if hasattr(value, "seconds"):
        return float(value.seconds)
    return float(value)


def _longest(days: set[date], step: int) -> int:
    best = run = 0
    prev = None
    for d in sorted(days):
        run = run + 1 if prev is not None and (d - prev).days == step else 1
        best, prev = max(best, run), d
    return best


@dataclasses.dataclass
class Expected:
    """Awards as (agent, badge, tier, award window), XP per agent, and every window's value."""

    awards: set[tuple[str, str, str, date]]
    xp: dict[str, int]
    values: dict[tuple[str, str, date], float]


def compute(
    badges: list[pb.BadgeDefinition],
    events: list[envelope_pb2.Envelope],
    zones: dict[str, str],
    now: datetime,
    lateness: timedelta,
) -> Expected:
    """Every award and window value of `badges` over `events` (all within the lateness)."""
    awards: set[tuple[str, str, str, date]] = set()
    values: dict[tuple[str, str, date], float] = {}
    for b in badges:
        s, bid = b.spec, b.metadata.id
        earned: set[tuple[str, str, str, date]] = set()
        aggregate, window = s.aggregate or "count", s.window or "all_time"
        per_day = s.min_per_day or 1
        windows: dict[tuple[str, date], list[tuple[date, float]]] = defaultdict(list)
        for e in events:
            kind = e.WhichOneof("payload")
            if kind != s.event or not PREDICATES[bid](getattr(e, kind)):
                continue
            day = (
                e.occurred_at.ToDatetime(tzinfo=UTC).astimezone(ZoneInfo(zones[e.agent_id])).date()
            )
            windows[(e.agent_id, _start(day, window))].append(
                (day, _number(getattr(e, kind), s.field))
            )
        for (agent, start), items in windows.items():
            xs = [x for _, x in items]
            if window.startswith("rolling"):
                length = 7 if window == "rolling_7d" else 30
                value = max(
                    float(sum(1 for d, _ in items if end - timedelta(days=length - 1) <= d <= end))
                    if aggregate == "count"
                    else 0.0
                    for end in {d for d, _ in items}
                )
            elif aggregate in ("distinct_days", "streak"):
                counts: dict[date, int] = defaultdict(int)
                for d, _ in items:
                    counts[d - timedelta(days=d.weekday()) if s.unit == "week" else d] += 1
                qualifying = {d for d, n in counts.items() if n >= per_day}
                value = float(
                    len(qualifying)
                    if aggregate == "distinct_days"
                    else _longest(qualifying, 7 if s.unit == "week" else 1)
                )
            else:
                value = {
                    "count": len(xs),
                    "sum": sum(xs),
                    "avg": sum(xs) / len(xs),
                    "min": min(xs),
                    "max": max(xs),
                }[aggregate]
            values[(agent, bid, start)] = value
            if aggregate in ("avg", "min") or s.HasField("cap"):
                closes = (
                    datetime.combine(
                        _end(start, window), datetime.min.time(), ZoneInfo(zones[agent])
                    )
                    + lateness
                )
                if closes > now or len(xs) < (s.min_count or 1):
                    continue
            for t in s.tiers:
                if value >= t.threshold:
                    earned.add(
                        (agent, bid, t.id, start if s.repeat == "every_window" else ALL_TIME)
                    )
        # Requirements: only agents who hold them (badges come after what they require).
        for r in s.requires:
            holders = {a for a, rb, tier, _ in awards if rb == r.badge and r.tier in ("", tier)}
            earned = {aw for aw in earned if aw[0] in holders}
        if s.HasField("cap"):
            kept: dict[tuple[str, date], list[date]] = defaultdict(list)
            for agent, w in sorted({(a, w) for a, _, _, w in earned}):
                period = kept[(agent, _start(w, s.cap.per))]
                if len(period) < s.cap.count:
                    period.append(w)
            earned = {aw for aw in earned if aw[3] in kept[(aw[0], _start(aw[3], s.cap.per))]}
        awards |= earned
    xp_of = {(b.metadata.id, t.id): t.xp for b in badges for t in b.spec.tiers}
    xp: dict[str, int] = defaultdict(int)
    for agent, bid, tier, _ in awards:
        xp[agent] += xp_of[(bid, tier)]
    return Expected(awards, dict(xp), values)


def current_start(badge: pb.BadgeDefinition, zone: str, now: datetime) -> date:
    """The first day of the badge's current window for an agent in `zone`."""
    return _start(now.astimezone(ZoneInfo(zone)).date(), badge.spec.window or "all_time")


# The conditions `board_standings` can read, as plain Python.
_BOARD_CONDITIONS: dict[str, Callable[[Any], bool]] = {
    "": lambda p: True,
    "event.csat >= 4": lambda p: p.csat >= 4,
    "event.resolved_first_contact": lambda p: p.resolved_first_contact,
}


def first_day(day: date, period: str) -> date:
    """The period's first day, computed here without the rules engine's calendar."""
    if period in ("", "day"):
        return day
    if period == "week":  # the tenant's weeks start on Monday
        return date.fromordinal(day.toordinal() - day.weekday())
    if period == "month":
        return date(day.year, day.month, 1)
    if period == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(1970, 1, 1)


def board_standings(
    d: lb.LeaderboardDefinition, events: list[envelope_pb2.Envelope]
) -> dict[date, tuple[list[tuple[int, str, float]], dict[str, int]]]:
    """Every period of one board from all events at once: the ranked entries and, apart,
    the agents not yet eligible with the matching events each still needs. The tenant's
    default zone is UTC and its weeks start on Monday. Conditions are read here in plain
    Python: the ones the starter program and the tests use."""
    s = d.spec
    zone = ZoneInfo(s.time_zone or "UTC")
    values: dict[tuple[date, str], list[float]] = {}
    for e in events:
        kind = e.WhichOneof("payload")
        if kind != s.event:
            continue
        p = getattr(e, kind)
        if s.when not in _BOARD_CONDITIONS:
            raise ValueError(f"the reference cannot read the condition {s.when!r}")
        if not _BOARD_CONDITIONS[s.when](p):
            continue
        value = (
            1.0 if not s.field else float(p.csat if s.field == "csat" else p.handle_time.seconds)
        )
        local = e.occurred_at.ToDatetime(tzinfo=UTC).astimezone(zone).date()
        values.setdefault((first_day(local, s.period), e.agent_id), []).append(value)
    out: dict[date, tuple[list[tuple[int, str, float]], dict[str, int]]] = {}
    for (period, agent), vs in values.items():
        ranked, waiting = out.setdefault(period, ([], {}))
        if len(vs) < max(1, s.min_events):
            waiting[agent] = max(1, s.min_events) - len(vs)
            continue
        score = {"sum": sum(vs), "avg": sum(vs) / len(vs)}.get(s.metric, float(len(vs)))
        ranked.append((0, agent, score))
    lower = s.direction == "lower"
    for ranked, _ in out.values():
        scores = [x for _, _, x in ranked]
        ranked[:] = sorted(
            (
                (1 + sum(1 for x in scores if (x < v if lower else x > v)), a, v)
                for _, a, v in ranked
            ),
            key=lambda r: (r[2] if lower else -r[2], r[1]),
        )
    return out


def scorecard_standings(
    d: lb.ScorecardDefinition,
    events: list[envelope_pb2.Envelope],
    places: dict[str, tuple[str, str]],
) -> dict[date, tuple[list[tuple[int, str, float]], dict[str, int]]]:
    """Every period of one scorecard from all events at once, in exact fractions: the
    ranked entries and, apart, the agents not yet eligible with the matching events
    each still needs. `places` gives each agent's (site, region)."""
    s = d.spec
    zone = ZoneInfo(s.time_zone or "UTC")
    seen: dict[tuple[date, str], dict[str, list[Fraction]]] = {}
    for e in events:
        kind = e.WhichOneof("payload")
        p = getattr(e, kind)
        local = e.occurred_at.ToDatetime(tzinfo=UTC).astimezone(zone).date()
        for m in s.metrics:
            if m.event != kind or not _BOARD_CONDITIONS[m.when](p):
                continue
            if m.metric == "rate":
                value = Fraction(100 if getattr(p, m.field) else 0)
            elif m.metric in ("", "count"):
                value = Fraction(1)
            else:
                value = Fraction(_number(p, m.field))
            per = seen.setdefault((first_day(local, s.period or "week"), e.agent_id), {})
            per.setdefault(m.id, []).append(value)
    out: dict[date, tuple[list[tuple[int, str, float]], dict[str, int]]] = {}
    for (period, agent), per in seen.items():
        ranked, waiting = out.setdefault(period, ([], {}))
        lacking = 0
        points, weights = [], []
        site, region = places.get(agent, ("", ""))
        over = next((w for w in s.weights if w.site_id and w.site_id == site), None) or next(
            (w for w in s.weights if w.region_id and w.region_id == region), None
        )
        for m in s.metrics:
            vs = per.get(m.id, [])
            needs = max(m.min_events, 1 if m.metric in ("avg", "rate") else 0)
            lacking += max(0, needs - len(vs))
            if m.metric in ("avg", "rate"):
                value = sum(vs) / len(vs) if vs else Fraction(0)
            elif m.metric == "sum":
                value = sum(vs, Fraction(0))
            else:
                value = Fraction(len(vs))
            held = [
                z
                for z in m.zones
                # Bounds as written (4.2, not the binary double nearest it).
                if (not z.HasField("lower") or Fraction(repr(z.lower)) <= value)
                and (not z.HasField("upper") or value < Fraction(repr(z.upper)))
            ]
            points.append(Fraction(held[0].points))
            weights.append(
                Fraction(over.weights[m.id]) if over and m.id in over.weights else
                Fraction(m.weight or 1)
            )  # fmt: skip
        if lacking:
            waiting[agent] = lacking
            continue
        ranked.append(
            (0, agent, sum(p * w for p, w in zip(points, weights, strict=True)) / sum(weights))
        )
    for ranked, _ in out.values():
        exact = [x for _, _, x in ranked]
        ranked[:] = sorted(
            ((1 + sum(1 for x in exact if x > v), a, float(v)) for _, a, v in ranked),
            key=lambda r: (r[0], r[1]),
        )
    return out
