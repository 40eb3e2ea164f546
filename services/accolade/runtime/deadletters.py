"""Dead letters: kept in PostgreSQL, published to the dead-letter topic, replayed on request."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from accolade.runtime import outbox
from accolade.runtime.inbox import Delivery, InvalidEvent

# Letter ids derive from what the message is, so a redelivered message is one letter.
_NAMESPACE = uuid.UUID("2a7e5d0c-6b1f-4c8e-9d3a-5f0e1b7c4a06")


def letter_id(consumer: str, d: Delivery) -> str:
    """The stable id of the letter for `d`: by event id, or by its bytes when it has none."""
    if d.envelope is not None:
        what = f"{d.envelope.tenant_id}/{d.envelope.event_id}"
    else:
        what = hashlib.sha256(d.value or b"").hexdigest()
    return str(uuid.uuid5(_NAMESPACE, f"{consumer}/{d.topic}/{what}"))


def _headers(consumer: str, d: Delivery, why: InvalidEvent) -> dict[str, str]:
    return {
        "reason": why.reason,
        "kind": why.kind,
        "source_topic": d.source_topic,
        "source_partition": str(d.partition),
        "source_offset": str(d.offset),
        "consumer": consumer,
    }


async def record(
    conn: asyncpg.Connection, consumer: str, topic: str, deliveries: Sequence[Delivery]
) -> tuple[list[Delivery], list[outbox.Row]]:
    """Keeps the letters for `deliveries` (each with its `failure`), in the caller's transaction.

    A message dead-lettered before (a redelivery) is not recorded or published again.

    Returns:
        The deliveries recorded now, and the outbox rows publishing them to `topic`.
    """
    if not deliveries:
        return [], []
    ids = [letter_id(consumer, d) for d in deliveries]
    envelopes = [d.envelope for d in deliveries]
    recorded = await conn.fetch(
        "INSERT INTO dead_letters (consumer, letter_id, topic, source_topic, source_partition, "
        "  source_offset, key, value, tenant_id, agent_id, event_id, kind, reason) "
        "SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::bigint[], "
        "  $7::bytea[], $8::bytea[], $9::text[], $10::text[], $11::uuid[], $12::text[], $13::text[]) "
        "ON CONFLICT (consumer, letter_id) DO NOTHING RETURNING letter_id::text",
        consumer,
        ids,
        [d.topic for d in deliveries],
        [d.source_topic for d in deliveries],
        [d.partition for d in deliveries],
        [d.offset for d in deliveries],
        [d.key for d in deliveries],
        [d.value for d in deliveries],
        [e.tenant_id if e else None for e in envelopes],
        [e.agent_id if e else None for e in envelopes],
        [e.event_id if e else None for e in envelopes],
        [d.failure.kind for d in deliveries],  # type: ignore[union-attr]
        [d.failure.reason for d in deliveries],  # type: ignore[union-attr]
    )
    fresh = {r[0] for r in recorded}
    new = [d for d, i in zip(deliveries, ids, strict=True) if i in fresh]
    rows = [
        outbox.Row(topic, d.key, i, d.value, _headers(consumer, d, d.failure))  # type: ignore[arg-type]
        for d, i in zip(deliveries, ids, strict=True)
        if i in fresh
    ]
    return new, rows


@dataclasses.dataclass(frozen=True, slots=True)
class Claimed:
    """A letter taken for replay, and the delivery it replays."""

    id: int
    delivery: Delivery


async def claim_replays(conn: asyncpg.Connection, consumer: str, limit: int) -> list[Claimed]:
    """Locks up to `limit` letters asked to be replayed, oldest first (skipping locked ones)."""
    rows = await conn.fetch(
        "SELECT id, topic, source_topic, source_partition, source_offset, key, value "
        "FROM dead_letters WHERE consumer = $1 AND replay_requested_at IS NOT NULL "
        "ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
        consumer,
        limit,
    )
    return [
        Claimed(
            r["id"],
            Delivery(
                r["topic"],
                r["source_topic"],
                r["source_partition"],
                r["source_offset"],
                r["key"],
                r["value"],
            ),
        )
        for r in rows
    ]


def outcome(d: Delivery) -> str:
    """What replaying `d` did: applied, duplicate (applied before) or failed."""
    if d.failure is not None:
        return "failed"
    return "duplicate" if d.duplicate else "applied"


async def finish_replays(conn: asyncpg.Connection, claimed: Sequence[Claimed]) -> None:
    """Records the outcome of each replayed letter (and the new reason of a failed one)."""
    await conn.execute(
        "UPDATE dead_letters d SET replay_requested_at = NULL, replayed_at = now(), "
        "  replay_outcome = u.outcome, attempts = d.attempts + 1, "
        "  kind = coalesce(u.kind, d.kind), reason = coalesce(u.reason, d.reason) "
        "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(id, outcome, kind, reason) "
        "WHERE d.id = u.id",
        [c.id for c in claimed],
        [outcome(c.delivery) for c in claimed],
        [c.delivery.failure.kind if c.delivery.failure else None for c in claimed],
        [c.delivery.failure.reason if c.delivery.failure else None for c in claimed],
    )


async def listing(
    conn: asyncpg.Connection, consumer: str, since: datetime | None
) -> list[asyncpg.Record]:
    """The letters of `consumer`, oldest first, dead-lettered at or after `since`."""
    return list(
        await conn.fetch(
            "SELECT id, letter_id::text, source_topic, source_partition, source_offset, "
            "  tenant_id, agent_id, event_id::text, kind, reason, dead_lettered_at, "
            "  replay_requested_at, replayed_at, replay_outcome, attempts "
            "FROM dead_letters WHERE consumer = $1 AND ($2::timestamptz IS NULL OR dead_lettered_at >= $2) "
            "ORDER BY dead_lettered_at, id",
            consumer,
            since,
        )
    )


async def request_replay(
    conn: asyncpg.Connection, consumer: str, since: datetime | None
) -> list[int]:
    """Asks the consumer to replay its letters not applied yet; returns their ids.

    The consumer looks for such requests every second. A letter that was applied (by an
    earlier replay, or before it was dead-lettered) is not asked again, so replaying twice
    applies once.
    """
    rows = await conn.fetch(
        "UPDATE dead_letters SET replay_requested_at = now() "
        "WHERE consumer = $1 AND ($2::timestamptz IS NULL OR dead_lettered_at >= $2) "
        "  AND replay_requested_at IS NULL "
        "  AND replay_outcome IS DISTINCT FROM 'applied' AND replay_outcome IS DISTINCT FROM 'duplicate' "
        "RETURNING id",
        consumer,
        since,
    )
    return sorted(r[0] for r in rows)


async def replay_progress(conn: asyncpg.Connection, ids: Sequence[int]) -> dict[str, int]:
    """How many of the letters `ids` are still waiting, and how many ended each way."""
    rows = await conn.fetch(
        "SELECT coalesce(CASE WHEN replay_requested_at IS NOT NULL THEN 'waiting' END, "
        "  replay_outcome, 'waiting') AS state, count(*) AS n "
        "FROM dead_letters WHERE id = ANY($1::bigint[]) GROUP BY 1",
        list(ids),
    )
    return {r["state"]: r["n"] for r in rows}
