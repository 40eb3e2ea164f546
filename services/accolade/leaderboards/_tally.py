"""The scores consumer: what a batch of events adds to every board, set-based.

The built-in board gets one point per interaction resolved on first contact, per UTC
day; each of a tenant's boards and scorecards, per part (metric), the count and field
total of the events matching its version in force when they happened, per period of
its time zone. Each table is written
with one upsert per batch, and what was written reaches this process's rank indexes
once the batch commits.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from accolade.leaderboards._boards import BUILT_IN, TenantBoards
from accolade.leaderboards._live import LiveBoards, Place
from accolade.rules.tenants import CalendarOf
from accolade.runtime import db, roster
from accolade.runtime.conditions import RESOLVED_FIRST_CONTACT, day_of, occurred_at
from accolade.runtime.inbox import Batch
from accolade.runtime.validation import utcnow
from accolade.v1 import envelope_pb2, events_pb2

# (tenant, board, version, period, agent)
ScoreKey = tuple[str, str, int, date, str]
Entries = Mapping[tuple[str, str], events_pb2.AgentUpdated]
_NO_AGENT = events_pb2.AgentUpdated()


def built_in(events: Iterable[envelope_pb2.Envelope]) -> Counter[tuple[str, str, date, str]]:
    """The built-in board's points: per (tenant, board, UTC day, agent)."""
    points: Counter[tuple[str, str, date, str]] = Counter()
    for e in events:
        if RESOLVED_FIRST_CONTACT.matches(e):
            points[(e.tenant_id, BUILT_IN, day_of(e), e.agent_id)] += 1
    return points


def tally(
    events: Iterable[envelope_pb2.Envelope],
    boards: Mapping[str, TenantBoards],
    cal_of: CalendarOf,
    agents: Entries | None = None,
) -> dict[ScoreKey, tuple[list[int], list[float]]]:
    """What `events` add to each tenant's boards: per key, each part's matching events
    and their total. Conditions read the agent's roster entry from `agents`."""
    out: dict[ScoreKey, tuple[list[int], list[float]]] = {}
    for e in events:
        held = boards.get(e.tenant_id)
        kind = e.WhichOneof("payload")
        if held is None or kind is None:
            continue
        at = occurred_at(e)
        rules = [(r, parts) for r in held.in_force(at) if (parts := r.parts_for(kind))]
        if not rules:
            continue
        cal = cal_of(e.tenant_id)
        payload = getattr(e, kind)
        agent = (agents or {}).get((e.tenant_id, e.agent_id), _NO_AGENT)
        for rule, parts in rules:
            matched = [i for i in parts if rule.parts[i].condition.holds(payload, agent)]
            if not matched:
                continue
            key = (
                e.tenant_id,
                rule.board_id,
                rule.version,
                rule.period_of(at, cal.default_zone, cal.week_start),
                e.agent_id,
            )
            if (sums := out.get(key)) is None:
                sums = out[key] = ([0] * len(rule.parts), [0.0] * len(rule.parts))
            for i in matched:
                sums[0][i] += 1
                sums[1][i] += rule.parts[i].value(payload)
    return out


def on_time(
    events: Iterable[envelope_pb2.Envelope],
    boards: Mapping[str, TenantBoards],
    cal_of: CalendarOf,
    now: datetime,
) -> tuple[list[envelope_pb2.Envelope], int]:
    """The events of tenants with boards that are not too late to count (that happened
    within the tenant's lateness of `now`), and how many were too late."""
    kept, late = [], 0
    for e in events:
        if e.tenant_id not in boards:
            continue
        if occurred_at(e) < now - cal_of(e.tenant_id).lateness:
            late += 1
        else:
            kept.append(e)
    return kept, late


def _array(values: Sequence[float]) -> str:
    """A PostgreSQL array literal, so that rows of arrays pass through one unnest."""
    return "{" + ",".join(map(repr, values)) + "}"


def _place(agents: Entries, tenant: str, agent: str) -> Place:
    e = agents.get((tenant, agent), _NO_AGENT)
    return (e.team_id, e.site_id, e.region_id)


async def apply(
    batch: Batch,
    boards: Mapping[str, TenantBoards],
    cal_of: CalendarOf,
    built_in_live: LiveBoards,
    tenant_live: LiveBoards,
) -> int:
    """Writes what the batch adds to both kinds of board; feeds the indexes on commit.
    Returns how many events came too late for the tenants' boards."""
    agents = await roster.entries(batch.conn, {(e.tenant_id, e.agent_id) for e in batch.events})
    points = built_in(batch.events)
    if points:
        written = await batch.conn.fetch(
            "INSERT INTO period_scores AS s (tenant_id, board_id, period, agent_id, score, "
            "  written_by) "
            "SELECT *, $6 FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], "
            "  $5::float8[]) "
            "ON CONFLICT (tenant_id, board_id, period, agent_id) "
            "DO UPDATE SET score = s.score + EXCLUDED.score, updated_at = now(), "
            "  written_by = EXCLUDED.written_by "
            "RETURNING tenant_id, board_id, period, agent_id, score",
            *db.columns([(*key, float(n)) for key, n in points.items()], 5),
            built_in_live.writer,
        )
        # Ranked at once by this process; other replicas read them within a second.
        batch.after_commit(
            functools.partial(
                built_in_live.written, [(*r, *_place(agents, r[0], r[3])) for r in written]
            )
        )
    if not boards:
        return 0
    events, late = on_time(batch.events, boards, cal_of, utcnow())
    added = tally(events, boards, cal_of, agents)
    if added:
        periods = {key[:4]: boards[key[0]].version(key[1], key[2]) for key in added}
        written = await batch.conn.fetch(
            # Scores go only to the periods still open: a period's row is locked by the
            # upsert, so a close waits for this batch, and after a close none is written.
            "WITH open AS ("
            "  INSERT INTO board_periods AS bp (tenant_id, board_id, version, period, "
            "    ends_at) "
            "  SELECT * FROM unnest($9::text[], $10::text[], $11::int[], $12::date[], "
            "    $13::timestamptz[]) "
            "  ON CONFLICT (tenant_id, board_id, version, period) "
            "  DO UPDATE SET ends_at = EXCLUDED.ends_at WHERE bp.closed_at IS NULL "
            "  RETURNING tenant_id, board_id, version, period) "
            "INSERT INTO board_scores AS s (tenant_id, board_id, version, period, agent_id, n, "
            "  total, written_by) "
            "SELECT u.t, u.b, u.v, u.p, u.a, u.n::bigint[], u.x::float8[], $8 "
            "FROM unnest($1::text[], $2::text[], $3::int[], $4::date[], $5::text[], "
            "  $6::text[], $7::text[]) AS u(t, b, v, p, a, n, x) "
            "JOIN open o ON o.tenant_id = u.t AND o.board_id = u.b AND o.version = u.v "
            "  AND o.period = u.p "
            "ON CONFLICT (tenant_id, board_id, version, period, agent_id) "
            "DO UPDATE SET n = ARRAY(SELECT coalesce(l, 0) + coalesce(r, 0) "
            "    FROM unnest(s.n, EXCLUDED.n) AS m(l, r)), "
            "  total = ARRAY(SELECT coalesce(l, 0) + coalesce(r, 0) "
            "    FROM unnest(s.total, EXCLUDED.total) AS m(l, r)), "
            "  updated_at = now(), written_by = EXCLUDED.written_by "
            "RETURNING tenant_id, board_id, version, period, agent_id, n, total",
            *db.columns([(*key, _array(n), _array(total)) for key, (n, total) in added.items()], 7),
            tenant_live.writer,
            *db.columns(
                [
                    (*p, r.ends_at(p[3], cal_of(p[0]).default_zone) if r else None)
                    for p, r in periods.items()
                ],
                5,
            ),
        )
        batch.after_commit(
            functools.partial(
                tenant_live.written, [(*r, *_place(agents, r[0], r[4])) for r in written]
            )
        )
    return late
