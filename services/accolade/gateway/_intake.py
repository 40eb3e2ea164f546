"""Event intake: validation, idempotent storage and the outbox, in shared transactions."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from accolade.runtime import outbox
from accolade.runtime.groupcommit import GroupCommit
from accolade.runtime.kafka import envelope_key
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


def validate_batch(events: Sequence[envelope_pb2.Envelope], now: datetime) -> None:
    """Checks a whole batch; a bad batch is refused whole so the sender can fix and resend it.

    Raises:
        InvalidArgument: with one violation per bad field, such as "events[3].occurred_at".
    """
    v = Violations()
    if not events:
        v.add("events", "must hold at least one event")
    elif len(events) > MAX_BATCH:
        v.add("events", f"must hold at most {MAX_BATCH} events, not {len(events)}")
    v.check()
    for i, e in enumerate(events):
        validate_envelope(v, f"events[{i}]", e, now)
    v.check()


def validate_envelope(v: Violations, at: str, e: envelope_pb2.Envelope, now: datetime) -> None:
    """Adds a violation for every part of `e` intake cannot accept."""
    v.uuid(f"{at}.event_id", e.event_id)
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


def prepare(e: envelope_pb2.Envelope, now: datetime) -> Prepared:
    """Canonical id, fingerprint and `recorded_at` for a validated event (changes `e`).

    The fingerprint is the SHA-256 of the envelope as sent, with its event id in canonical
    form and without `recorded_at` (which intake sets), serialized deterministically: it
    tells a resend of an event from a different event reusing its id.
    """
    e.event_id = str(uuid.UUID(e.event_id))  # so "A1B2..." resends "a1b2..."
    e.ClearField("recorded_at")
    fingerprint = hashlib.sha256(e.SerializeToString(deterministic=True)).digest()
    e.recorded_at.FromDatetime(now)
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


class Intake:
    """Stores new events and queues them for the activity topic; answers per event.

    Concurrent calls share transactions (group commit); each is answered only after the
    transaction that made its accepted events durable committed.
    """

    def __init__(self, pool: asyncpg.Pool, topic: str) -> None:
        self._topic = topic
        self._commits: GroupCommit[list[Prepared], list[EventResult]] = GroupCommit(
            pool, self._flush
        )

    async def accept(self, events: Sequence[envelope_pb2.Envelope]) -> list[EventResult]:
        """Validates `events` (refusing a bad batch whole), stores the new ones, answers each.

        Raises:
            InvalidArgument: the batch is malformed; nothing of it was stored.
        """
        now = utcnow()
        validate_batch(events, now)
        prepared = [prepare(e, now) for e in events]
        return await self._commits.submit(prepared, weight=len(prepared))

    async def _flush(
        self, conn: asyncpg.Connection, requests: Sequence[list[Prepared]]
    ) -> list[list[EventResult]]:
        flat = [p for request in requests for p in request]
        now = utcnow()
        inserted = await conn.fetch(
            "INSERT INTO intake_events (tenant_id, event_id, agent_id, fingerprint, occurred_at, recorded_at) "
            "SELECT t, e, a, f, o, $6 FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bytea[], $5::timestamptz[]) "
            "AS x(t, e, a, f, o) ON CONFLICT DO NOTHING RETURNING tenant_id, event_id::text",
            [p.tenant_id for p in flat],
            [p.event_id for p in flat],
            [p.agent_id for p in flat],
            [p.fingerprint for p in flat],
            [p.occurred_at for p in flat],
            now,
        )
        fresh = {(r[0], r[1]) for r in inserted}
        # Every other copy is judged against the stored fingerprint: a resend is a
        # duplicate, a different event reusing the id is rejected. The same holds for two
        # copies in this transaction, the first of which was just stored.
        stored: dict[tuple[str, str], bytes] = {}
        if len(fresh) < len(flat):
            stored = await _fingerprints(conn, {(p.tenant_id, p.event_id) for p in flat})
        answers: list[list[EventResult]] = []
        accepted: list[outbox.Row] = []
        for request in requests:
            results = []
            for i, p in enumerate(request):
                key = (p.tenant_id, p.event_id)
                if key in fresh:
                    fresh.discard(key)
                    accepted.append(outbox.Row(self._topic, p.key, p.event_id, p.payload))
                    results.append(
                        EventResult(event_id=p.event_id, status=Status.EVENT_STATUS_ACCEPTED)
                    )
                elif stored.get(key) == p.fingerprint:
                    results.append(
                        EventResult(event_id=p.event_id, status=Status.EVENT_STATUS_DUPLICATE)
                    )
                else:
                    results.append(
                        EventResult(
                            event_id=p.event_id,
                            status=Status.EVENT_STATUS_REJECTED,
                            field=f"events[{i}].event_id",
                            reason="this event_id was already used for a different event",
                        )
                    )
            answers.append(results)
        await outbox.write(conn, accepted)
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
