"""Event intake: validation, idempotent storage and the outbox, in one transaction."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from accolade.runtime import outbox
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import envelope_pb2, events_pb2, gateway_service_pb2

MAX_BATCH = 1000
_MAX_HANDLE_SECONDS = 24 * 3600
# Payloads a contact-center system may send; the rest are made by Accolade itself.
ACTIVITY_PAYLOADS = frozenset({"interaction_completed"})

Status = gateway_service_pb2.EventStatus


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
        p = f"{at}.interaction_completed"
        if not ic.interaction_id:
            v.add(f"{p}.interaction_id", "is required")
        if (
            ic.channel == events_pb2.CHANNEL_UNSPECIFIED
            or ic.channel not in events_pb2.Channel.values()
        ):
            v.add(f"{p}.channel", "must be one of " + ", ".join(events_pb2.Channel.keys()[1:]))
        if not ic.HasField("handle_time"):
            v.add(f"{p}.handle_time", "is required")
        elif not 0 <= ic.handle_time.seconds <= _MAX_HANDLE_SECONDS or ic.handle_time.nanos < 0:
            v.add(f"{p}.handle_time", "must be between 0 and 24 hours")


def _fingerprint(e: envelope_pb2.Envelope) -> bytes:
    sent = envelope_pb2.Envelope()
    sent.CopyFrom(e)
    sent.ClearField("recorded_at")
    return hashlib.sha256(sent.SerializeToString(deterministic=True)).digest()


async def accept(
    pool: asyncpg.Pool, topic: str, events: Sequence[envelope_pb2.Envelope]
) -> list[gateway_service_pb2.EventResult]:
    """Stores new events and queues them for `topic`; answers per event, in order.

    Returns only after the transaction that made the accepted events durable committed.
    """
    now = utcnow()
    validate_batch(events, now)
    prepared: list[tuple[envelope_pb2.Envelope, bytes]] = []
    for e in events:
        copy = envelope_pb2.Envelope()
        copy.CopyFrom(e)
        copy.event_id = str(uuid.UUID(copy.event_id))
        fingerprint = _fingerprint(copy)  # of the canonical id, so "A1B2..." resends "a1b2..."
        copy.recorded_at.FromDatetime(now)
        prepared.append((copy, fingerprint))

    async with pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetch(
            "INSERT INTO intake_events (tenant_id, event_id, agent_id, fingerprint, occurred_at, recorded_at) "
            "SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bytea[], $5::timestamptz[], $6::timestamptz[]) "
            "ON CONFLICT DO NOTHING RETURNING tenant_id, event_id::text",
            [e.tenant_id for e, _ in prepared],
            [e.event_id for e, _ in prepared],
            [e.agent_id for e, _ in prepared],
            [f for _, f in prepared],
            [e.occurred_at.ToDatetime(tzinfo=now.tzinfo) for e, _ in prepared],
            [now] * len(prepared),
        )
        fresh = {(r["tenant_id"], r["event_id"]) for r in inserted}
        seen = await _fingerprints(
            conn,
            [
                (e.tenant_id, e.event_id)
                for e, _ in prepared
                if (e.tenant_id, e.event_id) not in fresh
            ],
        )
        results: list[gateway_service_pb2.EventResult] = []
        to_publish: list[envelope_pb2.Envelope] = []
        for e, fingerprint in prepared:
            key = (e.tenant_id, e.event_id)
            if key in fresh:
                fresh.discard(key)
                seen[key] = fingerprint  # a later copy in this batch is judged against it
                to_publish.append(e)
                results.append(
                    gateway_service_pb2.EventResult(
                        event_id=e.event_id, status=Status.EVENT_STATUS_ACCEPTED
                    )
                )
            elif seen.get(key, fingerprint) == fingerprint:
                results.append(
                    gateway_service_pb2.EventResult(
                        event_id=e.event_id, status=Status.EVENT_STATUS_DUPLICATE
                    )
                )
            else:
                results.append(
                    gateway_service_pb2.EventResult(
                        event_id=e.event_id,
                        status=Status.EVENT_STATUS_REJECTED,
                        field=f"events[{len(results)}].event_id",
                        reason="this event_id was already used for a different event",
                    )
                )
        await outbox.add(conn, topic, to_publish)
    return results


async def _fingerprints(
    conn: asyncpg.Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], bytes]:
    if not keys:
        return {}
    rows = await conn.fetch(
        "SELECT i.tenant_id, i.event_id::text, i.fingerprint FROM intake_events i "
        "JOIN unnest($1::text[], $2::uuid[]) AS k(t, e) ON i.tenant_id = k.t AND i.event_id = k.e",
        [t for t, _ in keys],
        [e for _, e in keys],
    )
    return {(r["tenant_id"], r["event_id"]): r["fingerprint"] for r in rows}
