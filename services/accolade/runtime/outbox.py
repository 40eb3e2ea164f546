"""The transactional outbox: events are written with the state change that caused them."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence

import asyncpg

from accolade.runtime.kafka import envelope_key
from accolade.v1 import envelope_pb2

NOTIFY_CHANNEL = "accolade_outbox"


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """One message to publish: where to, its key, its id and its bytes."""

    topic: str
    key: bytes | None
    event_id: str
    payload: bytes | None
    headers: Mapping[str, str] | None = None


def rows(topic: str, envelopes: Iterable[envelope_pb2.Envelope]) -> list[Row]:
    """The outbox rows that publish `envelopes` to `topic`, keyed tenant/agent."""
    return [Row(topic, envelope_key(e), e.event_id, e.SerializeToString()) for e in envelopes]


async def write(conn: asyncpg.Connection, pending: Sequence[Row]) -> None:
    """Records `pending` for publication, in the caller's transaction, with one statement.

    The relay is woken (once) when the transaction commits.
    """
    if not pending:
        return
    await conn.execute(
        "WITH written AS (INSERT INTO outbox (topic, key, event_id, payload, headers) "
        "  SELECT * FROM unnest($1::text[], $2::bytea[], $3::uuid[], $4::bytea[], $5::jsonb[]) "
        "  RETURNING 1) "
        "SELECT pg_notify($6, current_schema()) WHERE EXISTS (SELECT FROM written)",
        [r.topic for r in pending],
        [r.key for r in pending],
        [r.event_id for r in pending],
        [r.payload for r in pending],
        [None if r.headers is None else json.dumps(dict(r.headers)) for r in pending],
        NOTIFY_CHANNEL,
    )


async def add(
    conn: asyncpg.Connection, topic: str, envelopes: Sequence[envelope_pb2.Envelope]
) -> None:
    """Records `envelopes` for publication to `topic`, in the caller's transaction."""
    await write(conn, rows(topic, envelopes))
