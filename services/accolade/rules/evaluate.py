"""Evaluating badge rules on a batch of events: what each event adds, and what is earned.

The work is split so that the store can do its part set-based: `contributions` turns a
batch into pre-aggregated deltas per window (and per day or week bucket), the store merges
them into what it holds and returns the merged state, and `reached` decides which tiers
that state has earned. Every delta is a commutative merge, so the outcome does not
depend on how events were split into batches or the order in which they arrived.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from accolade.rules import calendar
from accolade.rules.aggregates import Agg, Mark, best_rolling, longest_run, merged, scalar
from accolade.rules.conditions import activation, read_number
from accolade.rules.definitions import Rule, Tier
from accolade.runtime.conditions import occurred_at
from accolade.v1 import envelope_pb2, events_pb2

# (tenant, agent, badge, window start): the state one rule keeps for one agent.
WindowKey = tuple[str, str, str, date]
# A window key and the day (or week) bucket within it.
BucketKey = tuple[str, str, str, date, date]


@dataclasses.dataclass(frozen=True, slots=True)
class Program:
    """One tenant's rules: every version of every badge, by event type."""

    cal: calendar.Calendar
    by_event: Mapping[str, Sequence[Sequence[Rule]]]  # event -> badges -> versions, ascending
    by_badge: Mapping[str, Sequence[Rule]]  # badge -> versions, ascending
    # badge -> the badges that some version of which requires it
    dependents: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    # Whether some badge counts events from before it came into force (a backfill).
    backfilled: bool = False
    # event -> (from when the latest version of each of its badges is in force, those
    # versions not archived): what `in_force` answers for nearly every event.
    latest: Mapping[str, tuple[datetime, Sequence[Rule]]] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, rules: Iterable[Rule], cal: calendar.Calendar) -> Program:
        """Groups rule versions by event type and badge."""
        badges: dict[str, list[Rule]] = {}
        for r in rules:
            badges.setdefault(r.badge_id, []).append(r)
        by_event: dict[str, list[list[Rule]]] = {}
        for versions in badges.values():
            versions.sort(key=lambda r: (r.effective_at, r.version))
            by_event.setdefault(versions[0].event, []).append(versions)
        dependents: dict[str, set[str]] = {}
        for b, versions in badges.items():
            for r in versions:
                for required, _ in r.requires:
                    dependents.setdefault(required, set()).add(b)
        latest = {
            kind: (
                max(vs[-1].starts_at for vs in per_badge),
                [vs[-1] for vs in per_badge if not vs[-1].archived],
            )
            for kind, per_badge in by_event.items()
        }
        return cls(
            cal,
            by_event,
            badges,
            {b: frozenset(ds) for b, ds in dependents.items()},
            any(r.counts_from is not None for vs in badges.values() for r in vs),
            latest,
        )

    def in_force(self, event_type: str, at: datetime) -> Sequence[Rule]:
        """The version of each badge counting `event_type` that is in force at `at`."""
        latest = self.latest.get(event_type)
        if latest is not None and at >= latest[0]:
            return latest[1]
        found = (_current(versions, at) for versions in self.by_event.get(event_type, ()))
        return [r for r in found if r is not None and not r.archived]

    def version_at(self, badge_id: str, at: datetime) -> Rule | None:
        """The version of a badge in force at `at`, archived or not."""
        return _current(self.by_badge.get(badge_id, ()), at)


def _current(versions: Sequence[Rule], at: datetime) -> Rule | None:
    """The last of `versions` (ascending by effective time) in force at `at`."""
    current = None
    for r in versions:
        if r.starts_at > at:
            break
        current = r
    return current


@dataclasses.dataclass(slots=True)
class Deltas:
    """What a batch adds: per window, and per bucket for bucketed rules."""

    windows: dict[WindowKey, Agg] = dataclasses.field(default_factory=dict)
    buckets: dict[BucketKey, Agg] = dataclasses.field(default_factory=dict)
    # Each agent's time zone, by (tenant, agent).
    zones: dict[tuple[str, str], ZoneInfo] = dataclasses.field(default_factory=dict)
    # Events too late to count, by (tenant, event id).
    too_late: list[envelope_pb2.Envelope] = dataclasses.field(default_factory=list)


def _add(into: dict[Any, Agg], key: Any, value: float, mark: Mark) -> None:
    """Adds one event to the aggregate held at `key`."""
    held = into.get(key)
    if held is None:
        into[key] = Agg(1, value, value, value, mark, mark)
    else:
        held.add(value, mark)


# (tenant, badge, version, event id): an event that happened before a backfilled
# version came into force, which counts for it once.
Claim = tuple[str, str, int, str]


def early_claims(
    events: Iterable[envelope_pb2.Envelope], programs: Mapping[str, Program], now: datetime
) -> list[Claim]:
    """The claims to make before `events` count: one per event (not too late at `now`)
    and backfilled version it happened early for."""
    out: list[Claim] = []
    for e in events:
        program = programs.get(e.tenant_id)
        kind = e.WhichOneof("payload")
        if program is None or not program.backfilled or kind is None:
            continue
        at = occurred_at(e)
        if at < now - program.cal.lateness:
            continue
        for r in program.in_force(kind, at):
            if r.early(at):
                out.append((e.tenant_id, r.badge_id, r.version, e.event_id))
    return out


def contributions(
    events: Iterable[envelope_pb2.Envelope],
    programs: Mapping[str, Program],
    agents: Mapping[tuple[str, str], events_pb2.AgentUpdated],
    now: datetime,
    claimed: Container[Claim] = (),
) -> Deltas:
    """What `events` add to every rule in force that counts them.

    Args:
        events: a batch, in any order.
        programs: each tenant's program (tenants without one count nothing).
        agents: roster entries by (tenant, agent); a missing one reads as empty.
        now: events that happened before `now` minus the tenant's lateness are too late.
        claimed: of `early_claims`, those this batch won: an event that happened before
            a backfilled version came into force counts for it only if claimed here.
    """
    out = Deltas()
    blank = events_pb2.AgentUpdated()
    for e in events:
        program = programs.get(e.tenant_id)
        kind = e.WhichOneof("payload")
        if program is None or kind is None or kind not in program.by_event:
            continue
        at = occurred_at(e)
        cal = program.cal
        if at < now - cal.lateness:
            out.too_late.append(e)
            continue
        agent = agents.get((e.tenant_id, e.agent_id), blank)
        tz = calendar.zone(agent.time_zone or cal.default_zone)
        payload = getattr(e, kind)
        day = calendar.local_day(at, tz)
        mark = (at, e.event_id)
        who = (e.tenant_id, e.agent_id)
        out.zones[who] = tz
        starts: dict[str, date] = {}
        bound = None
        # Badges often share a condition ("resolved on first contact"): evaluate each once.
        held: dict[str, bool] = {}
        for rule in program.in_force(kind, at):
            if (
                rule.counts_from is not None
                and rule.early(at)
                and (e.tenant_id, rule.badge_id, rule.version, e.event_id) not in claimed
            ):
                continue
            c = rule.condition
            if not c.always:
                ok = held.get(c.source)
                if ok is None:
                    if c.fast is not None:
                        ok = c.fast(payload, agent)
                    else:
                        if bound is None:
                            bound = activation(kind, payload, agent)
                        ok = c.holds_in(bound)
                    held[c.source] = ok
                if not ok:
                    continue
            value = read_number(payload, rule.field) if rule.field else 1.0
            start = starts.get(rule.window)
            if start is None:
                start = starts[rule.window] = calendar.window_start(
                    day, rule.window, cal.week_start
                )
            key = (*who, rule.badge_id, start)
            _add(out.windows, key, value, mark)
            if rule.bucketed:
                bucket = day
                if rule.aggregate == "streak" and rule.unit == "week":
                    bucket = calendar.week_of(day, cal.week_start)
                _add(out.buckets, (*key, bucket), value, mark)
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Standing:
    """A rule's value for one agent in one window, and the events behind it.

    Attributes:
        value: the aggregate's value.
        agg: the events that counted toward `value` (for a streak or a rolling window,
            those of its best run or range).
        start, end: the range the value covers, as instants (None: unbounded).
    """

    value: float
    agg: Agg
    start: datetime | None
    end: datetime | None


def standing(
    rule: Rule,
    window_start: date,
    agg: Agg,
    buckets: Mapping[date, Agg],
    tz: ZoneInfo,
    cal: calendar.Calendar,
) -> Standing:
    """The rule's value over a window's merged state (its buckets, for bucketed rules)."""
    start, end = calendar.window_bounds(window_start, rule.window, tz)
    if rule.window in calendar.ROLLING_DAYS:
        length = calendar.ROLLING_DAYS[rule.window]
        value, last, best = best_rolling(rule.aggregate, buckets, length, rule.min_per_day)
        if last is None or best is None:
            return Standing(0.0, agg, start, end)
        first = last - timedelta(days=length - 1)
        return Standing(
            value, best, calendar.instant(first, tz), calendar.instant(last + timedelta(days=1), tz)
        )
    if rule.aggregate == "distinct_days":
        days = [a for a in buckets.values() if a.n >= rule.min_per_day]
        counted = merged(days)
        return Standing(float(len(days)), counted or agg, start, end)
    if rule.aggregate == "streak":
        qualifying = {b: a for b, a in buckets.items() if a.n >= rule.min_per_day}
        length, first_b, last_b = longest_run(qualifying, rule.unit, cal.working_days)
        if first_b is None or last_b is None:
            return Standing(0.0, agg, start, end)
        run = merged(a for b, a in qualifying.items() if first_b <= b <= last_b) or agg
        step = 7 if rule.unit == "week" else 1
        return Standing(
            float(length),
            run,
            calendar.instant(first_b, tz),
            calendar.instant(last_b + timedelta(days=step), tz),
        )
    return Standing(scalar(rule.aggregate, agg), agg, start, end)


def reached(rule: Rule, s: Standing) -> list[Tier]:
    """The tiers whose threshold the standing meets."""
    if rule.at_close and s.agg.n < rule.min_count:
        return []
    return [t for t in rule.tiers if s.value >= t.threshold]


def closes_at(
    rule: Rule, window_start: date, tz: ZoneInfo, cal: calendar.Calendar
) -> datetime | None:
    """When a window of an at-close rule is decided: its end plus the lateness."""
    if not rule.at_close:
        return None
    _, end = calendar.window_bounds(window_start, rule.window, tz)
    return None if end is None else end + cal.lateness


def award_window(rule: Rule, window_start: date) -> date:
    """The window an award is keyed by: its own for every_window, one for all time else."""
    return window_start if rule.repeat == "every_window" else calendar.ALL_TIME


@dataclasses.dataclass(frozen=True, slots=True)
class Award:
    """A tier an agent has reached, with the standing that reached it.

    Attributes:
        key: the window the standing was computed in.
        award_window: what the award is keyed by besides its tier (`award_window`).
        rule: the version that decided it: the one in force at the window's latest event.
    """

    key: WindowKey
    award_window: date
    rule: Rule
    tier: Tier
    standing: Standing


def awards(
    keys: Iterable[WindowKey],
    windows: Mapping[WindowKey, Agg],
    buckets: Mapping[WindowKey, Mapping[date, Agg]],
    zones: Mapping[tuple[str, str], ZoneInfo],
    programs: Mapping[str, Program],
    closing: bool = False,
) -> list[Award]:
    """The tiers reached in each window of `keys`, from its merged state.

    Args:
        keys: the windows a batch touched (or, with `closing`, the windows that closed).
        windows, buckets: their merged state.
        zones: each agent's time zone, by (tenant, agent).
        programs: each tenant's program.
        closing: decide the rules decided at close (avg, min) instead of the others.
    """
    out: list[Award] = []
    for key in keys:
        tenant, _, badge, start = key
        program = programs.get(tenant)
        agg = windows.get(key)
        if program is None or agg is None:
            continue
        rule = program.version_at(badge, agg.last[0])
        if rule is None or rule.archived or rule.at_close != closing:
            continue
        if not rule.bucketed and (
            agg.n < rule.min_count or scalar(rule.aggregate, agg) < rule.tiers[0].threshold
        ):
            continue  # the usual case, decided without the window's bounds
        s = standing(rule, start, agg, buckets.get(key, {}), zones[key[:2]], program.cal)
        tiers = reached(rule, s)
        out.extend(Award(key, award_window(rule, start), rule, t, s) for t in tiers)
    return out
