"""Agents' notifications: numbered per agent and kept, so streams can resume.

The `notifications` consumer reads the recognition topics (awards, challenges) in
batches through the inbox (so each event is numbered once), gives each agent's new
notifications the next sequences, stores them, and wakes every gateway replica's hub
with one `pg_notify` per batch, delivered at commit.
"""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from accolade.runtime import db
from accolade.runtime.inbox import Batch, BatchHandler
from accolade.runtime.service import Context
from accolade.v1 import envelope_pb2

# What an agent's console is told about.
LIVE_PAYLOADS = frozenset({"badge_awarded", "level_reached", "challenge_completed"})
TOPICS = ("awards", "challenges")
CHANNEL = "accolade_notifications"
# The most a stream is sent per read of the store.
PAGE = 500


def notifications_handler(ctx: Context) -> BatchHandler:
    """Numbers and stores a batch's notifications with a few statements per batch."""

    async def apply(batch: Batch) -> None:
        by_agent: dict[tuple[str, str], list[envelope_pb2.Envelope]] = defaultdict(list)
        for e in batch.events:
            if e.WhichOneof("payload") in LIVE_PAYLOADS:
                by_agent[(e.tenant_id, e.agent_id)].append(e)
        if not by_agent:
            return
        keys = sorted(by_agent)  # one lock order for every batch: no deadlocks
        lasts = await batch.conn.fetch(
            "INSERT INTO notification_sequences AS s (tenant_id, agent_id, last) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) "
            "ON CONFLICT (tenant_id, agent_id) DO UPDATE SET last = s.last + EXCLUDED.last "
            "RETURNING tenant_id, agent_id, last",
            *db.columns([(t, a, len(by_agent[(t, a)])) for t, a in keys], 3),
        )
        rows: list[tuple[str, str, int, str, bytes]] = []
        for r in lasts:
            events = by_agent[(r[0], r[1])]
            first = r[2] - len(events) + 1
            rows.extend(
                (r[0], r[1], first + i, e.event_id, e.SerializeToString())
                for i, e in enumerate(events)
            )
        await batch.conn.execute(
            "WITH stored AS (INSERT INTO notifications "
            "  (tenant_id, agent_id, sequence, event_id, envelope) "
            "  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[], $5::bytea[]) "
            "  RETURNING 1) "
            "SELECT pg_notify($6, '') WHERE EXISTS (SELECT FROM stored)",
            *db.columns(rows, 5),
            CHANNEL,
        )

    return apply


async def latest(conn: asyncpg.Connection, tenant_id: str, agent_id: str) -> int:
    """The agent's last sequence so far (0 before the first notification)."""
    last: int | None = await conn.fetchval(
        "SELECT last FROM notification_sequences WHERE tenant_id = $1 AND agent_id = $2",
        tenant_id,
        agent_id,
    )
    return last or 0


async def latest_many(
    conn: asyncpg.Connection, tenant_id: str, agent_ids: list[str]
) -> dict[str, int]:
    """Each agent's last sequence so far (agents with none are left out: 0)."""
    rows = await conn.fetch(
        "SELECT agent_id, last FROM notification_sequences "
        "WHERE tenant_id = $1 AND agent_id = ANY($2::text[])",
        tenant_id,
        agent_ids,
    )
    return {r[0]: r[1] for r in rows}


async def after(
    conn: asyncpg.Connection, wanted: list[tuple[str, str, int]]
) -> list[tuple[str, str, int, envelope_pb2.Envelope]]:
    """The notifications after each (tenant, agent, sequence), in sequence order, at most
    PAGE for each agent."""
    rows = await conn.fetch(
        "SELECT w.t, w.a, n.sequence, n.envelope "
        "FROM unnest($1::text[], $2::text[], $3::bigint[]) AS w(t, a, s) "
        "CROSS JOIN LATERAL (SELECT sequence, envelope FROM notifications "
        "  WHERE tenant_id = w.t AND agent_id = w.a AND sequence > w.s "
        "  ORDER BY sequence LIMIT $4) n "
        "ORDER BY w.t, w.a, n.sequence",
        *db.columns(wanted, 3),
        PAGE,
    )
    return [(r[0], r[1], r[2], envelope_pb2.Envelope.FromString(r[3])) for r in rows]
