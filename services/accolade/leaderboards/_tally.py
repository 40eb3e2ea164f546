"""The scores consumer: what a batch of events adds to every board, set-based.

The built-in board gets one point per interaction resolved on first contact, per UTC
day; each of a tenant's boards, the count and field total of the events matching its
version in force when they happened, per period of its time zone. Each table is written
with one upsert per batch, and what was written reaches this process's rank indexes
once the batch commits.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date

from accolade.leaderboards._boards import BUILT_IN, TenantBoards
from accolade.leaderboards._live import LiveBoards
from accolade.rules.tenants import CalendarOf
from accolade.runtime import db
from accolade.runtime.conditions import RESOLVED_FIRST_CONTACT, day_of, occurred_at
from accolade.runtime.inbox import Batch
from accolade.v1 import envelope_pb2, events_pb2

# (tenant, board, version, period, agent)
ScoreKey = tuple[str, str, int, date, str]
# The roster is not followed here yet: conditions read `agent` as an empty entry.
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
) -> dict[ScoreKey, tuple[int, float]]:
    """What `events` add to each tenant's boards: per key, (matching events, total)."""
    out: dict[ScoreKey, tuple[int, float]] = {}
    for e in events:
        held = boards.get(e.tenant_id)
        kind = e.WhichOneof("payload")
        if held is None or kind is None:
            continue
        at = occurred_at(e)
        rules = [r for r in held.in_force(at) if r.event == kind]
        if not rules:
            continue
        cal = cal_of(e.tenant_id)
        payload = getattr(e, kind)
        for rule in rules:
            if not rule.condition.holds(payload, _NO_AGENT):
                continue
            key = (
                e.tenant_id,
                rule.board_id,
                rule.version,
                rule.period_of(at, cal.default_zone, cal.week_start),
                e.agent_id,
            )
            n, total = out.get(key, (0, 0.0))
            out[key] = (n + 1, total + rule.value(payload))
    return out


async def apply(
    batch: Batch,
    boards: Mapping[str, TenantBoards],
    cal_of: CalendarOf,
    built_in_live: LiveBoards,
    tenant_live: LiveBoards,
) -> None:
    """Writes what the batch adds to both kinds of board; feeds the indexes on commit."""
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
        batch.after_commit(functools.partial(built_in_live.written, [tuple(r) for r in written]))
    added = tally(batch.events, boards, cal_of) if boards else {}
    if added:
        written = await batch.conn.fetch(
            "INSERT INTO board_scores AS s (tenant_id, board_id, version, period, agent_id, n, "
            "  total, written_by) "
            "SELECT *, $8 FROM unnest($1::text[], $2::text[], $3::int[], $4::date[], $5::text[], "
            "  $6::bigint[], $7::float8[]) "
            "ON CONFLICT (tenant_id, board_id, version, period, agent_id) "
            "DO UPDATE SET n = s.n + EXCLUDED.n, total = s.total + EXCLUDED.total, "
            "  updated_at = now(), written_by = EXCLUDED.written_by "
            "RETURNING tenant_id, board_id, version, period, agent_id, n, total",
            *db.columns([(*key, n, total) for key, (n, total) in added.items()], 7),
            tenant_live.writer,
        )
        batch.after_commit(functools.partial(tenant_live.written, [tuple(r) for r in written]))
