"""Incremental evaluation in batches agrees with a recomputation from all events at once.

For random histories (agents in random time zones, events arriving in random order but
within the lateness, split into random batches) and random badge definitions, the awards
made one batch at a time, and every window's value, count, first and last event, equal
what this file computes its own way from the whole history.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accolade.rules.calendar import Calendar
from accolade.rules.definitions import Rule, check_badge, check_requirements
from accolade.rules.evaluate import Program
from accolade.rules.memory import MemoryState
from accolade.rules.tests.kit import EPOCH, badge, interaction_at, survey_at
from accolade.runtime.validation import Violations
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import envelope_pb2, events_pb2

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"]
LATENESS = timedelta(hours=72)
ALL_TIME = date(1970, 1, 1)

# CEL conditions, each with what it means, written here in Python.
CONDITIONS: dict[str, list[tuple[str, Callable[[Any], bool]]]] = {
    "survey_submitted": [
        ("", lambda p: True),
        ("event.csat == 5", lambda p: p.csat == 5),
        ("event.csat >= 4", lambda p: p.csat >= 4),
    ],
    "interaction_completed": [
        ("", lambda p: True),
        ("event.resolved_first_contact", lambda p: p.resolved_first_contact),
        ('event.handle_time < duration("300s")', lambda p: p.handle_time.seconds < 300),
    ],
}
FIELDS = {"survey_submitted": ["csat"], "interaction_completed": ["handle_time"]}


@dataclasses.dataclass(frozen=True)
class Spec:
    event: str
    condition: int
    aggregate: str
    field: str
    window: str
    thresholds: tuple[float, ...]
    repeat: str
    min_per_day: int
    unit: str
    min_count: int
    # (badge index, tier index or -1 for any): a badge drawn before this one.
    requires: tuple[int, int] | None = None
    cap: tuple[int, str] | None = None


PERIODS = ["day", "week", "month", "quarter", "all_time"]


@st.composite
def programs_(draw: st.DrawFn) -> list[Spec]:
    """Up to four badges, later ones requiring earlier ones now and then."""
    out: list[Spec] = []
    for i in range(draw(st.integers(1, 4))):
        s = draw(specs())
        if i and draw(st.integers(0, 2)) == 0:
            j = draw(st.integers(0, i - 1))
            tier = draw(st.integers(-1, len(out[j].thresholds) - 1))
            s = dataclasses.replace(s, requires=(j, tier))
        out.append(s)
    return out


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    event = draw(st.sampled_from(sorted(CONDITIONS)))
    aggregate = draw(
        st.sampled_from(["count", "sum", "avg", "min", "max", "distinct_days", "streak"])
    )
    if aggregate in ("avg", "min"):
        windows = ["day", "week", "month"]
    elif aggregate == "streak":
        windows = ["all_time", "month"]
    else:
        windows = ["all_time", "day", "week", "month", "quarter", "rolling_7d", "rolling_30d"]
    window = draw(st.sampled_from(windows))
    calendar_window = window in ("day", "week", "month", "quarter")
    repeat = draw(st.sampled_from(["once", "every_window"])) if calendar_window else "once"
    field = (
        draw(st.sampled_from(FIELDS[event])) if aggregate in ("sum", "avg", "min", "max") else ""
    )
    top = {"count": 8, "distinct_days": 6, "streak": 4}.get(
        aggregate, 1500 if field == "handle_time" else 20
    )
    steps = draw(st.lists(st.integers(1, top), min_size=1, max_size=3, unique=True))
    cap = None
    if repeat == "every_window" and draw(st.booleans()):
        longer = PERIODS[PERIODS.index(window) + 1 :]
        cap = (draw(st.integers(1, 3)), draw(st.sampled_from(longer)))
    return Spec(
        event=event,
        condition=draw(st.integers(0, len(CONDITIONS[event]) - 1)),
        aggregate=aggregate,
        field=field,
        window=window,
        thresholds=tuple(float(x) for x in sorted(steps)),
        repeat=repeat,
        min_per_day=draw(st.integers(1, 2)) if aggregate in ("distinct_days", "streak") else 0,
        unit=draw(st.sampled_from(["day", "week"])) if aggregate == "streak" else "",
        min_count=draw(st.integers(1, 3)) if aggregate in ("avg", "min") else 0,
        cap=cap,
    )


def compile_spec(i: int, s: Spec, specs_: list[Spec]) -> Rule:
    requires = []
    if s.requires is not None:
        j, k = s.requires
        requires.append(pb.BadgeRequirement(badge=f"b{j}", tier=f"t{k}" if k >= 0 else ""))
    extra: dict[str, object] = {"requires": requires}
    if s.cap is not None:
        extra["cap"] = pb.BadgeCap(count=s.cap[0], per=s.cap[1])
    rule = badge(
        f"b{i}",
        event=s.event,
        when=CONDITIONS[s.event][s.condition][0],
        aggregate=s.aggregate,
        field=s.field,
        window=s.window,
        repeat=s.repeat,
        min_per_day=s.min_per_day,
        unit=s.unit,
        min_count=s.min_count,
        tiers=[(f"t{k}", t, 10 * (k + 1)) for k, t in enumerate(s.thresholds)],
        **extra,
    )
    # Every generated definition is one the validator accepts, alone and as a program.
    v = Violations()
    d = _as_definition(rule, s)
    d.spec.requires.extend(requires)
    if s.cap is not None:
        d.spec.cap.CopyFrom(extra["cap"])  # type: ignore[arg-type]
    check_badge(v, "b", d)
    others = {
        f"b{j}": pb.BadgeSpec(tiers=[pb.BadgeTier(id=f"t{k}") for k in range(len(o.thresholds))])
        for j, o in enumerate(specs_)
        if j != i
    }
    check_requirements(v, {f"b{i}": ("b", d.spec)}, others)
    assert v.items == []
    return rule


def _as_definition(rule: Rule, s: Spec) -> pb.BadgeDefinition:
    return pb.BadgeDefinition(
        metadata=pb.ObjectMeta(id=rule.badge_id, name=rule.name),
        spec=pb.BadgeSpec(
            event=s.event,
            when=rule.condition.source,
            aggregate=s.aggregate,
            field=s.field,
            window=s.window,
            repeat=s.repeat,
            min_per_day=s.min_per_day,
            unit=s.unit,
            min_count=s.min_count,
            tiers=[pb.BadgeTier(id=t.id, threshold=t.threshold, xp=t.xp) for t in rule.tiers],
        ),
    )


@st.composite
def histories(
    draw: st.DrawFn,
) -> tuple[dict[str, str], list[tuple[envelope_pb2.Envelope, timedelta]]]:
    agents = {f"a{i}": draw(st.sampled_from(ZONES)) for i in range(draw(st.integers(1, 3)))}
    events = []
    # Over a few days events are dense enough for streaks; over weeks, windows multiply.
    span = draw(st.sampled_from([6, 15, 50]))
    for _ in range(draw(st.integers(1, 60))):
        agent = draw(st.sampled_from(sorted(agents)))
        # Any minute of the span, at local day edges as often as not.
        at = EPOCH + timedelta(minutes=draw(st.integers(0, span * 24 * 60)))
        if draw(st.booleans()):
            at = at.replace(minute=draw(st.sampled_from([0, 29, 30, 59])))
        if draw(st.booleans()):
            e = survey_at(agent, at, draw(st.integers(1, 5)))
        else:
            e = interaction_at(agent, at, fcr=draw(st.booleans()), handle=draw(st.integers(0, 900)))
        delay = timedelta(minutes=draw(st.integers(0, int(LATENESS.total_seconds() // 60) - 1)))
        events.append((e, delay))
    return agents, events


# --- the recomputation, written without the engine's windows and aggregates ---


def local_day(e: envelope_pb2.Envelope, zone: str) -> date:
    return e.occurred_at.ToDatetime(tzinfo=UTC).astimezone(ZoneInfo(zone)).date()


def start_of(day: date, window: str) -> date:
    if window == "day":
        return day
    if window == "week":
        return day - timedelta(days=day.weekday())  # Monday
    if window == "month":
        return date(day.year, day.month, 1)
    if window == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return ALL_TIME


def number(e: envelope_pb2.Envelope, field: str) -> float:
    p = getattr(e, e.WhichOneof("payload") or "")
    if field == "csat":
        return float(p.csat)
    if field == "handle_time":
        return float(p.handle_time.seconds)
    return 1.0


def streak_of(days: set[date], unit: str, working: frozenset[int]) -> int:
    if unit == "week":
        weeks = sorted(days)
        best = run = 0
        for i, w in enumerate(weeks):
            run = run + 1 if i and (w - weeks[i - 1]).days == 7 else 1
            best = max(best, run)
        return best
    best = run = 0
    if not days:
        return 0
    d, last = min(days), max(days)
    while d <= last:
        if d.weekday() in working:
            run = run + 1 if d in days else 0
            best = max(best, run)
        d += timedelta(days=1)
    return best


def recompute(
    specs_: list[Spec],
    agents: dict[str, str],
    events: list[envelope_pb2.Envelope],
    working: frozenset[int],
) -> tuple[set[tuple[str, str, str, date]], dict[tuple[str, str, date], tuple[float, int]]]:
    """Awards (agent, badge, tier, award window) and each window's (value, count).

    A badge that requires another is earned, in every window meeting a threshold, by the
    agents who end up holding what it requires; a capped one in the earliest windows of
    each period, up to the cap, among those that earned it.
    """
    awards: set[tuple[str, str, str, date]] = set()
    values = {}
    for i, s in enumerate(specs_):
        earned: set[tuple[str, str, str, date]] = set()
        holds = CONDITIONS[s.event][s.condition][1]
        for agent, zone in agents.items():
            mine = [
                e
                for e in events
                if e.agent_id == agent
                and e.WhichOneof("payload") == s.event
                and holds(getattr(e, s.event))
            ]
            windows: dict[date, list[envelope_pb2.Envelope]] = defaultdict(list)
            for e in mine:
                windows[start_of(local_day(e, zone), s.window)].append(e)
            for w, es in windows.items():
                xs = [number(e, s.field) for e in es]
                per_day: dict[date, int] = defaultdict(int)
                for e in es:
                    d = local_day(e, zone)
                    if s.unit == "week":
                        d = start_of(d, "week")
                    per_day[d] += 1
                qualifying = {d for d, n in per_day.items() if n >= s.min_per_day}
                if s.window.startswith("rolling"):
                    length = 7 if s.window == "rolling_7d" else 30
                    best = 0.0
                    for end in per_day:
                        inside = [
                            e
                            for e in es
                            if end - timedelta(days=length - 1) <= local_day(e, zone) <= end
                        ]
                        ys = [number(e, s.field) for e in inside]
                        days_in = {
                            d for d in qualifying if end - timedelta(days=length - 1) <= d <= end
                        }
                        v = {
                            "count": len(ys),
                            "sum": sum(ys),
                            "max": max(ys),
                            "distinct_days": len(days_in),
                        }[s.aggregate]
                        best = max(best, float(v))
                    value = best
                elif s.aggregate == "distinct_days":
                    value = float(len(qualifying))
                elif s.aggregate == "streak":
                    value = float(streak_of(qualifying, s.unit, working))
                else:
                    value = {
                        "count": len(xs),
                        "sum": sum(xs),
                        "avg": sum(xs) / len(xs),
                        "min": min(xs),
                        "max": max(xs),
                    }[s.aggregate]
                values[(agent, f"b{i}", w)] = (value, len(es))
                if s.aggregate in ("avg", "min") and len(es) < s.min_count:
                    continue
                for k, t in enumerate(s.thresholds):
                    if value >= t:
                        earned.add(
                            (agent, f"b{i}", f"t{k}", w if s.repeat == "every_window" else ALL_TIME)
                        )
        if s.requires is not None:
            j, k = s.requires
            holders = {a for a, b, tier, _ in awards if b == f"b{j}" and k in (-1, int(tier[1:]))}
            earned = {aw for aw in earned if aw[0] in holders}
        if s.cap is not None:
            count, per = s.cap
            windows = sorted({(a, w) for a, _, _, w in earned})
            kept: dict[tuple[str, date], list[date]] = defaultdict(list)
            for a, w in windows:
                period = kept[(a, start_of(w, per))]
                if len(period) < count:
                    period.append(w)
            earned = {aw for aw in earned if aw[3] in kept[(aw[0], start_of(aw[3], per))]}
        awards |= earned
    return awards, values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    programs_(),
    histories(),
    st.sampled_from([frozenset(range(7)), frozenset(range(5))]),
    st.data(),
)
def test_batches_in_any_order_agree_with_a_recomputation(
    specs_: list[Spec],
    history: tuple[dict[str, str], list[Any]],
    working: frozenset[int],
    data: st.DataObject,
) -> None:
    check(specs_, history, working, data)


@st.composite
def capped_programs(draw: st.DrawFn) -> list[Spec]:
    """A badge that is easy to earn every day, capped, and one that requires it: so that
    caps bind and requirements unlock awards in most examples."""
    daily = Spec(
        event=draw(st.sampled_from(sorted(CONDITIONS))),
        condition=0,
        aggregate="count",
        field="",
        window="day",
        thresholds=tuple(float(t) for t in sorted(draw(st.sets(st.integers(1, 3), min_size=1)))),
        repeat="every_window",
        min_per_day=0,
        unit="",
        min_count=0,
        cap=(draw(st.integers(1, 2)), draw(st.sampled_from(["week", "month", "all_time"]))),
    )
    later = draw(specs())
    return [daily, dataclasses.replace(later, requires=(0, draw(st.integers(-1, 0))))]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capped_programs(), histories(), st.just(frozenset(range(7))), st.data())
def test_caps_and_requirements_agree_with_a_recomputation(
    specs_: list[Spec],
    history: tuple[dict[str, str], list[Any]],
    working: frozenset[int],
    data: st.DataObject,
) -> None:
    check(specs_, history, working, data)


def check(
    specs_: list[Spec],
    history: tuple[dict[str, str], list[Any]],
    working: frozenset[int],
    data: st.DataObject,
) -> None:
    """Applies the history in random batches and compares with `recompute`."""
    agents, arrivals = history
    rules = [compile_spec(i, s, specs_) for i, s in enumerate(specs_)]
    programs = {"t": Program.of(rules, Calendar(working_days=working, lateness=LATENESS))}
    roster = {("t", a): events_pb2.AgentUpdated(time_zone=z) for a, z in agents.items()}
    # Each event arrives some time after it happened, but within the lateness.
    arrivals.sort(key=lambda ed: ed[0].occurred_at.ToDatetime(tzinfo=UTC) + ed[1])
    state = MemoryState()
    i = 0

    def happened(e: envelope_pb2.Envelope) -> datetime:
        return e.occurred_at.ToDatetime(tzinfo=UTC)

    while i < len(arrivals):
        # A batch is applied once its last event has arrived, while its earliest event is
        # still within the lateness.
        size = data.draw(st.integers(1, 8))
        batch = [arrivals[i]]
        i += 1
        while i < len(arrivals) and len(batch) < size:
            e, d = arrivals[i]
            if happened(e) + d - min(happened(b) for b, _ in batch) >= LATENESS:
                break
            batch.append(arrivals[i])
            i += 1
        now = max(happened(e) + d for e, d in batch)
        state.apply([e for e, _ in batch], programs, roster, now)
        state.close(programs, now)
    state.close(programs, datetime(2100, 1, 1, tzinfo=UTC))
    assert state.too_late == []

    expected_awards, expected_values = recompute(specs_, agents, [e for e, _ in arrivals], working)
    got_awards = {(a, b, tier, w) for (_, a, b, tier, w) in state.awards}
    assert got_awards == expected_awards

    from accolade.rules.evaluate import standing

    got_values = {}
    for key, agg in state.windows.items():
        _, agent, b, w = key
        rule = rules[int(b[1:])]
        s = standing(
            rule, w, agg, state.buckets.get(key, {}), state.zones[key[:2]], programs["t"].cal
        )
        got_values[(agent, b, w)] = (round(s.value, 6), agg.n)
        # The explanation's first and last events are the window's earliest and latest.
        marks = sorted(
            (e.occurred_at.ToDatetime(tzinfo=UTC), e.event_id)
            for e, _ in arrivals
            if e.agent_id == agent
            and e.WhichOneof("payload") == rule.event
            and CONDITIONS[rule.event][specs_[int(b[1:])].condition][1](getattr(e, rule.event))
            and start_of(local_day(e, agents[agent]), rule.window) == w
        )
        assert (agg.first, agg.last) == (marks[0], marks[-1])
    assert got_values == {k: (round(v, 6), n) for k, (v, n) in expected_values.items()}
