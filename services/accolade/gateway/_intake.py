"""Event intake: validation, idempotent storage and the outbox, in shared transactions."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import asyncpg
from google.protobuf import timestamp_pb2

from accolade.runtime.conditions import occurred_at
from accolade.runtime.groupcommit import GroupCommit
from accolade.runtime.kafka import envelope_key
from accolade.runtime.metrics import Metrics
from accolade.runtime.storeonce import StoreOnce
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import envelope_pb2, events_pb2, gateway_service_pb2

MAX_BATCH = 1000
_MAX_HANDLE_SECONDS = 24 * 3600
# Payloads a contact-center system may send; the rest are made by Accolade itself.
ACTIVITY_PAYLOADS = frozenset(
    {
        "interaction_completed",
        "qa_evaluated",
        "training_completed",
        "certification_passed",
        "adherence_reported",
        "metric_reported",
    }
)
_METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_SECTIONS = 50
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
    else:
        _ACTIVITY[kind](v, f"{at}.{kind}", getattr(e, kind))
    return event_id


def _score(v: Violations, at: str, value: float) -> None:
    if not (math.isfinite(value) and 0 <= value <= 100):
        v.add(at, f"must be between 0 and 100, not {value:g}")


def _required(v: Violations, at: str, value: str) -> None:
    if not value:
        v.add(at, "is required")
    elif len(value) > 200:
        v.add(at, "must be at most 200 characters")


def _qa(v: Violations, at: str, p: events_pb2.QaEvaluated) -> None:
    _required(v, f"{at}.evaluation_id", p.evaluation_id)
    _required(v, f"{at}.form_id", p.form_id)
    _score(v, f"{at}.score", p.score)
    if len(p.sections) > MAX_SECTIONS:
        v.add(f"{at}.sections", f"must hold at most {MAX_SECTIONS} sections")
    for i, section in enumerate(p.sections):
        _required(v, f"{at}.sections[{i}].name", section.name)
        _score(v, f"{at}.sections[{i}].score", section.score)


def _training(v: Violations, at: str, p: events_pb2.TrainingCompleted) -> None:
    _required(v, f"{at}.course_id", p.course_id)
    _score(v, f"{at}.score", p.score)


def _certification(v: Violations, at: str, p: events_pb2.CertificationPassed) -> None:
    _required(v, f"{at}.certification_id", p.certification_id)
    if not 1 <= p.level <= 100:
        v.add(f"{at}.level", f"must be between 1 and 100, not {p.level}")


def _adherence(v: Violations, at: str, p: events_pb2.AdherenceReported) -> None:
    try:
        date.fromisoformat(p.day)
    except ValueError:
        v.add(f"{at}.day", f"must be a day as YYYY-MM-DD, not {p.day[:32]!r}")
    _score(v, f"{at}.adherence_percent", p.adherence_percent)


def _metric(v: Violations, at: str, p: events_pb2.MetricReported) -> None:
    if not _METRIC_NAME.match(p.name):
        v.add(f"{at}.name", "must be 1-64 lower-case letters, digits and _, starting with a letter")
    if not math.isfinite(p.value):
        v.add(f"{at}.value", "must be a finite number")
    if not p.HasField("period_start"):
        v.add(f"{at}.period_start", "is required")
    if not p.HasField("period_end"):
        v.add(f"{at}.period_end", "is required")
    elif (
        p.HasField("period_start")
        and p.period_end.ToNanoseconds() <= p.period_start.ToNanoseconds()
    ):
        v.add(f"{at}.period_end", "must be after period_start")


_ACTIVITY: dict[str, Callable[[Violations, str, Any], None]] = {
    "qa_evaluated": _qa,
    "training_completed": _training,
    "certification_passed": _certification,
    "adherence_reported": _adherence,
    "metric_reported": _metric,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """An event ready to store: its key, its fingerprint and its bytes for the outbox."""

    tenant_id: str
    event_id: str
    agent_id: str
    fingerprint: bytes
    occurred_at: datetime
    recorded_at: datetime
    key: bytes
    payload: bytes


def prepare(
    e: envelope_pb2.Envelope, event_id: str, now: datetime, stamp: timestamp_pb2.Timestamp
) -> Prepared:
    """Canonical id, fingerprint and `recorded_at` for a validated event (changes `e`).

    The fingerprint is the SHA-256 of the envelope as sent, with its event id in canonical
    form and without `recorded_at` (which intake sets), serialized deterministically: it
    tells a resend of an event from a different event reusing its id. `stamp` is `now`
    as a Timestamp, made once per call: copying it costs a fraction of converting.
    """
    e.event_id = event_id  # canonical, so "A1B2..." resends "a1b2..."
    e.ClearField("recorded_at")
    fingerprint = hashlib.sha256(e.SerializeToString(deterministic=True)).digest()
    e.recorded_at.CopyFrom(stamp)
    return Prepared(
        e.tenant_id,
        e.event_id,
        e.agent_id,
        fingerprint,
        occurred_at(e),
        now,
        envelope_key(e),
        e.SerializeToString(),
    )


# Accepted events, kept once each: a resend repeats the fingerprint.
_EVENTS = StoreOnce(
    "intake_events",
    [
        ("tenant_id", "text"),
        ("event_id", "uuid"),
        ("agent_id", "text"),
        ("fingerprint", "bytea"),
        ("occurred_at", "timestamptz"),
        ("recorded_at", "timestamptz"),
    ],
    key=("tenant_id", "event_id"),
    compare=["fingerprint"],
)


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
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(now)
        prepared = [prepare(e, i, now, stamp) for e, i in zip(events, ids, strict=True)]
        return await self._commits.submit(prepared, weight=len(prepared))

    async def _flush(
        self, conn: asyncpg.Connection, requests: Sequence[list[Prepared]]
    ) -> list[list[EventResult]]:
        flat = [p for request in requests for p in request]
        found = iter(
            await _EVENTS.store(
                conn,
                [
                    (
                        p.tenant_id,
                        p.event_id,
                        p.agent_id,
                        p.fingerprint,
                        p.occurred_at,
                        p.recorded_at,
                    )
                    for p in flat
                ],
                [(p.key, p.payload) for p in flat],
                self._topic,
            )
        )
        answers: list[list[EventResult]] = []
        for request in requests:
            results = []
            for at, (p, stored) in enumerate(zip(request, found, strict=False)):
                if stored.new:
                    results.append(
                        EventResult(event_id=p.event_id, status=Status.EVENT_STATUS_ACCEPTED)
                    )
                elif stored.kept == (p.fingerprint,):  # a resend of the same event
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
