"""Event intake: validation, idempotent storage and the outbox, in shared transactions."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
from google.protobuf import timestamp_pb2

from accolade.runtime import outbox
from accolade.runtime.groupcommit import GroupCommit
from accolade.runtime.kafka import envelope_key
from accolade.runtime.metrics import Metrics
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import envelope_pb2, events_pb2, gateway_service_pb2

MAX_BATCH = 1000
_MAX_HANDLE_SECONDS = 24 * 3600
# Payloads a contact-center system may send; the rest are made by Accolade itself.
ACTIVITY_PAYLOADS = frozenset({"interaction_completed"})
_CHANNELS = frozenset(events_pb2.Channel.values()) - {events_pb2.CHANNEL_UNSPECIFIED}
_CHANNEL_NAMES = ", ".join(events_pb2.Channel.keys()[1:])

Status = gateway_service_pb2.EventStatus
EventResult = gateway_service_pb2.EventResult


def validate_batch(events: Sequence[envelope_pb2.Envelope], now: datetime) -> list[str]:
    """Checks a whole batch; a bad batch is refused whole so the sender can fix and resend it.

    Returns:
        The event ids in canonical form, in order.

    Raises:
        InvalidArgument: with one violation per bad field, such as "events[3].occurred_at".
    """
    v = Violations()
    if not events:
        v.add("events", "must hold at least one event")
    elif len(events) > MAX_BATCH:
        v.add("events", f"must hold at most {MAX_BATCH} events, not {len(events)}")
    v.check()
    ids = [validate_envelope(v, f"events[{i}]", e, now) for i, e in enumerate(events)]
    v.check()
    return ids


def validate_envelope(v: Violations, at: str, e: envelope_pb2.Envelope, now: datetime) -> str:
    """Adds a violation for every part of `e` intake cannot accept; returns its canonical id."""
    event_id = v.uuid(f"{at}.event_id", e.event_id)
    v.identifier(f"{at}.tenant_id", e.tenant_id)
    v.identifier(f"{at}.agent_id", e.agent_id)
    v.timestamp(f"{at}.occurred_at", e.occurred_at, e.HasField("occurred_at"), now=now)
    kind = e.WhichOneof("payload")
    if kind is None:
        v.add(f"{at}.payload", "is missing or of a type this gateway does not know")
    elif kind not in ACTIVITY_PAYLOADS:
        v.add(f"{at}.payload", f"{kind} is made by Accolade and cannot be sent to intake")
    elif kind == "interaction_completed":
        ic = e.interaction_completed
        if not ic.interaction_id:
            v.add(f"{at}.interaction_completed.interaction_id", "is required")
        if ic.channel not in _CHANNELS:
            v.add(f"{at}.interaction_completed.channel", f"must be one of {_CHANNEL_NAMES}")
        if not ic.HasField("handle_time"):
            v.add(f"{at}.interaction_completed.handle_time", "is required")
        elif not 0 <= ic.handle_time.seconds <= _MAX_HANDLE_SECONDS or ic.handle_time.nanos < 0:
            v.add(f"{at}.interaction_completed.handle_time", "must be between 0 and 24 hours")
    return event_id


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """An event ready to store: its key, its fingerprint and its bytes for the outbox."""

    tenant_id: str
    event_id: str
    agent_id: str
    fingerprint: bytes
    occurred_at: datetime
    key: bytes
    payload: bytes


def prepare(
    e: envelope_pb2.Envelope, event_id: str, recorded_at: timestamp_pb2.Timestamp
) -> Prepared:
    """Canonical id, fingerprint and `recorded_at` for a validated event (changes `e`).

    The fingerprint is the SHA-256 of the envelope as sent, with its event id in canonical
    form and without `recorded_at` (which intake sets), serialized deterministically: it
    tells a resend of an event from a different event reusing its id.
    """
    e.event_id = event_id  # canonical, so "A1B2..." resends "a1b2..."
    e.ClearField("recorded_at")
    fingerprint = hashlib.sha256(e.SerializeToString(deterministic=True)).digest()
    e.recorded_at.CopyFrom(recorded_at)
    ts = e.occurred_at
    return Prepared(
        e.tenant_id,
        e.event_id,
        e.agent_id,
        fingerprint,
        datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, UTC),
        envelope_key(e),
        e.SerializeToString(),
    )


# One statement, so a group of calls costs one round trip and commits on its own: store the
# events not stored before, queue the first copy of each for the topic, wake the relay,
# and answer per event whether it was new and what fingerprint was stored before (a
# snapshot of before this statement: a row a concurrent call stored meanwhile shows as
# neither, and is looked up again).
_STORE = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bytea[], $5::timestamptz[],
                         $6::bytea[], $7::bytea[]) WITH ORDINALITY
        AS x(tenant_id, event_id, agent_id, fingerprint, occurred_at, key, payload, n)
), stored AS (
    INSERT INTO intake_events (tenant_id, event_id, agent_id, fingerprint, occurred_at, recorded_at)
    SELECT tenant_id, event_id, agent_id, fingerprint, occurred_at, $8 FROM input ORDER BY n
    ON CONFLICT DO NOTHING
    RETURNING tenant_id, event_id
), published AS (
    INSERT INTO outbox (topic, key, event_id, payload)
    SELECT $9, key, event_id, payload FROM (
        SELECT DISTINCT ON (i.tenant_id, i.event_id) i.n, i.key, i.event_id, i.payload
        FROM input i JOIN stored USING (tenant_id, event_id)
        ORDER BY i.tenant_id, i.event_id, i.n
    ) AS first_copies ORDER BY n
    RETURNING 1
)
SELECT s.event_id IS NOT NULL AS new, e.fingerprint AS before,
       (SELECT pg_notify($10, current_schema()) WHERE EXISTS (SELECT FROM published)) AS woke
FROM input i
LEFT JOIN stored s USING (tenant_id, event_id)
LEFT JOIN intake_events e ON e.tenant_id = i.tenant_id AND e.event_id = i.event_id
ORDER BY i.n
"""


class Intake:
    """Stores new events and queues them for the activity topic; answers per event.

    Concurrent calls share transactions (group commit); each is answered only after the
    statement that made its accepted events durable committed.
    """

    def __init__(self, pool: asyncpg.Pool, topic: str, metrics: Metrics) -> None:
        self._topic = topic
        self._commits: GroupCommit[list[Prepared], list[EventResult]] = GroupCommit(
            pool,
            self._flush,
            transaction=False,
            observe=metrics.commit_group_calls.labels("intake_events").observe,
        )

    async def accept(self, events: Sequence[envelope_pb2.Envelope]) -> list[EventResult]:
        """Validates `events` (refusing a bad batch whole), stores the new ones, answers each.

        Raises:
            InvalidArgument: the batch is malformed; nothing of it was stored.
        """
        now = utcnow()
        ids = validate_batch(events, now)
        recorded_at = timestamp_pb2.Timestamp()
        recorded_at.FromDatetime(now)
        prepared = [prepare(e, i, recorded_at) for e, i in zip(events, ids, strict=True)]
        return await self._commits.submit(prepared, weight=len(prepared))

    async def _flush(
        self, conn: asyncpg.Connection, requests: Sequence[list[Prepared]]
    ) -> list[list[EventResult]]:
        flat = [p for request in requests for p in request]
        rows = await conn.fetch(
            _STORE,
            [p.tenant_id for p in flat],
            [p.event_id for p in flat],
            [p.agent_id for p in flat],
            [p.fingerprint for p in flat],
            [p.occurred_at for p in flat],
            [p.key for p in flat],
            [p.payload for p in flat],
            utcnow(),
            self._topic,
            outbox.NOTIFY_CHANNEL,
        )
        # rows[n]: was flat[n]'s event stored now, and the fingerprint stored before, if any.
        known: dict[tuple[str, str], bytes] = {}
        racing = [
            (p.tenant_id, p.event_id)
            for p, r in zip(flat, rows, strict=True)
            if not r["new"] and r["before"] is None
        ]
        if racing:
            # Stored by a concurrent transaction after this statement took its snapshot.
            known = await _fingerprints(conn, set(racing))
        answers: list[list[EventResult]] = []
        i = 0
        for request in requests:
            results = []
            for at, p in enumerate(request):
                r = rows[i]
                i += 1
                key = (p.tenant_id, p.event_id)
                if key not in known and r["new"]:
                    known[key] = p.fingerprint
                    results.append(
                        EventResult(event_id=p.event_id, status=Status.EVENT_STATUS_ACCEPTED)
                    )
                    continue
                # A copy: a resend is a duplicate, a different event reusing the id is rejected.
                # A second copy in this group is judged against the first.
                stored = known.setdefault(key, r["before"])
                if stored == p.fingerprint:
                    results.append(
                        EventResult(event_id=p.event_id, status=Status.EVENT_STATUS_DUPLICATE)
                    )
                else:
                    results.append(
                        EventResult(
                            event_id=p.event_id,
                            status=Status.EVENT_STATUS_REJECTED,
                            field=f"events[{at}].event_id",
                            reason="this event_id was already used for a different event",
                        )
                    )
            answers.append(results)
        return answers


async def _fingerprints(
    conn: asyncpg.Connection, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], bytes]:
    rows = await conn.fetch(
        "SELECT i.tenant_id, i.event_id::text, i.fingerprint FROM intake_events i "
        "JOIN unnest($1::text[], $2::uuid[]) AS k(t, e) ON i.tenant_id = k.t AND i.event_id = k.e",
        [t for t, _ in keys],
        [e for _, e in keys],
    )
    return {(r[0], r[1]): r[2] for r in rows}
