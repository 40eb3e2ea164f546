"""The engine's state held in memory: the reference the stores are checked against.

It merges deltas exactly as a store does, so applying a history in batches here, in any
order, must give what a database-backed store gives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from accolade.rules import evaluate, gates
from accolade.rules.aggregates import Agg
from accolade.rules.evaluate import Award, Program, WindowKey
from accolade.v1 import envelope_pb2, events_pb2

# (tenant, agent, badge, tier, award window)
AwardKey = tuple[str, str, str, str, date]


@dataclasses.dataclass
class MemoryState:
    """Windows, buckets and awards, as a store holds them."""

    windows: dict[WindowKey, Agg] = dataclasses.field(default_factory=dict)
    buckets: dict[WindowKey, dict[date, Agg]] = dataclasses.field(default_factory=dict)
    zones: dict[tuple[str, str], ZoneInfo] = dataclasses.field(default_factory=dict)
    awards: dict[AwardKey, Award] = dataclasses.field(default_factory=dict)
    closed: set[WindowKey] = dataclasses.field(default_factory=set)
    too_late: list[str] = dataclasses.field(default_factory=list)

    def apply(
        self,
        events: Iterable[envelope_pb2.Envelope],
        programs: Mapping[str, Program],
        agents: Mapping[tuple[str, str], events_pb2.AgentUpdated],
        now: datetime,
    ) -> list[Award]:
        """Applies one batch; returns the awards it made (the ones not held before)."""
        d = evaluate.contributions(events, programs, agents, now)
        self.too_late.extend(e.event_id for e in d.too_late)
        for key, agg in d.windows.items():
            held = self.windows.get(key)
            if held is None:
                self.windows[key] = agg.copy()
            else:
                held.merge(agg)
        for (t, a, b, w, bucket), agg in d.buckets.items():
            days = self.buckets.setdefault((t, a, b, w), {})
            if bucket in days:
                days[bucket].merge(agg)
            else:
                days[bucket] = agg.copy()
        self.zones.update(d.zones)
        return self._keep(
            evaluate.awards(d.windows, self.windows, self.buckets, self.zones, programs), programs
        )

    def close(self, programs: Mapping[str, Program], now: datetime) -> list[Award]:
        """Decides the windows of at-close rules whose end plus lateness has passed."""
        due = []
        for key, agg in self.windows.items():
            program = programs.get(key[0])
            rule = program.version_at(key[2], agg.last[0]) if program else None
            if key in self.closed or rule is None or program is None:
                continue
            closes = evaluate.closes_at(rule, key[3], self.zones[key[:2]], program.cal)
            if closes is not None and closes <= now:
                due.append(key)
        self.closed.update(due)
        return self._keep(
            evaluate.awards(due, self.windows, self.buckets, self.zones, programs, closing=True),
            programs,
        )

    def _keep(self, found: list[Award], programs: Mapping[str, Program]) -> list[Award]:
        """Stores what requirements and caps admit, then decides again the badges that
        the new awards unlock, until nothing more is earned."""
        new: list[Award] = []
        while found:
            found = gates.gate(found, self._holds)
            found = gates.capped(found, self._taken(found, programs), programs)
            made = []
            for aw in found:
                t, a, b, _ = aw.key
                k = (t, a, b, aw.tier.id, aw.award_window)
                if k not in self.awards:
                    self.awards[k] = aw
                    made.append(aw)
            new.extend(made)
            again = gates.rechecks(made, programs)
            opened = [k for k in self.windows if k[:3] in again and k not in self.closed]
            closed = [k for k in self.windows if k[:3] in again and k in self.closed]
            found = evaluate.awards(opened, self.windows, self.buckets, self.zones, programs)
            found += evaluate.awards(
                closed, self.windows, self.buckets, self.zones, programs, closing=True
            )
        return new

    def _holds(self, h: gates.Holding) -> bool:
        return any(k[:3] == h[:3] and h[3] in ("", k[3]) for k in self.awards)

    def _taken(
        self, found: list[Award], programs: Mapping[str, Program]
    ) -> dict[tuple[str, str, str, date], set[date]]:
        """The windows already awarded in the cap periods of the capped ones of `found`."""
        out: dict[tuple[str, str, str, date], set[date]] = {}
        for aw in found:
            if aw.rule.cap is None:
                continue
            t, a, b, start = aw.key
            cal = programs[t].cal
            period = gates.cap_period(aw.rule, start, cal)
            out[(t, a, b, period)] = {
                k[4]
                for k in self.awards
                if k[:3] == (t, a, b) and gates.cap_period(aw.rule, k[4], cal) == period
            }
        return out
