"""Applying events exactly once, a batch at a time: the inbox, the handler and its Batch."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable

import asyncpg
from google.protobuf.message import DecodeError
from prometheus_client import Counter

from accolade.runtime import db, outbox
from accolade.runtime.faults import environment_fault
from accolade.runtime.validation import canonical_uuid
from accolade.v1 import envelope_pb2

log = logging.getLogger(__name__)


class InvalidEvent(Exception):
    """A message that can never be applied; it goes to the dead-letter topic.

    Args:
        reason: what is wrong, for people; sent as the dead letter's `reason` header.
        kind: a short fixed category, for the dead-letter metric's label.
    """

    def __init__(self, reason: str, kind: str = "rejected") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


# The `kind` of every dead letter: a fixed set, so it can label a metric.
DEAD_LETTER_KINDS = ("undecodable", "invalid", "unknown_payload", "rejected", "handler_error")


def decode(value: bytes | None) -> envelope_pb2.Envelope:
    """Parses and checks the parts of an envelope every consumer relies on.

    Raises:
        InvalidEvent: the bytes are not an envelope, or a required part is missing.
    """
    envelope = envelope_pb2.Envelope()
    try:
        envelope.ParseFromString(value or b"")
    except DecodeError as exc:
        raise InvalidEvent(f"undecodable: {exc}", "undecodable") from None
    try:
        envelope.event_id = canonical_uuid(envelope.event_id)
    except ValueError:
        raise InvalidEvent(
            f"invalid envelope: event_id {envelope.event_id[:64]!r} is not a UUID", "invalid"
        ) from None
    if not envelope.tenant_id:
        raise InvalidEvent("invalid envelope: tenant_id is empty", "invalid")
    if not envelope.agent_id:
        raise InvalidEvent("invalid envelope: agent_id is empty", "invalid")
    if envelope.WhichOneof("payload") is None:
        raise InvalidEvent(
            "unknown payload: missing or of a type this consumer does not know", "unknown_payload"
        )
    return envelope


@dataclasses.dataclass(slots=True, eq=False)
class Delivery:
    """One message to apply: read from a topic partition, or a dead letter replayed."""

    # The logical topic ("activity"), which keys the inbox, and the full name read from.
    topic: str
    source_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    envelope: envelope_pb2.Envelope | None = None
    # Set when the message can never be applied.
    failure: InvalidEvent | None = None
    # Set when the inbox shows the event was applied before.
    duplicate: bool = False

    def decode(self) -> None:
        """Decodes the value into `envelope`, or records why it cannot be."""
        try:
            self.envelope = decode(self.value)
        except InvalidEvent as exc:
            self.failure = exc


class Batch:
    """The new events of one batch, for a handler to apply set-based in one transaction.

    A handler classifies and pre-aggregates `events` in Python, then writes each table it
    changes with one statement on `conn`. What it emits goes to the outbox in one insert
    after it returns, and what it registers with `after_commit` (metrics, say) runs only
    once the transaction committed, so a retried batch counts nothing twice.

    Attributes:
        conn: the connection, inside the batch's transaction. A handler that raises has its
            writes undone; the runtime then applies halves of the batch to find the event
            at fault, which goes to the dead-letter topic alone.
        events: the events not applied before, each once, in the order they were read
            within each partition (so an agent's events in the order they were published).
    """

    __slots__ = ("_after", "_by_event", "_emitted", "_rejected", "conn", "events")

    def __init__(self, conn: asyncpg.Connection, deliveries: list[Delivery]) -> None:
        self.conn = conn
        self.events: list[envelope_pb2.Envelope] = [d.envelope for d in deliveries]  # type: ignore[misc]
        self._by_event = {id(d.envelope): d for d in deliveries}
        self._emitted: list[outbox.Row] = []
        self._after: list[Callable[[], object]] = []
        self._rejected: list[tuple[Delivery, InvalidEvent]] = []

    def emit(self, topic: str, envelopes: Iterable[envelope_pb2.Envelope]) -> None:
        """Publishes `envelopes` to `topic` (a full topic name) if the batch commits."""
        self._emitted.extend(outbox.rows(topic, envelopes))

    def origin(self, event: envelope_pb2.Envelope) -> tuple[str, bytes]:
        """The logical topic (such as "activity") `event`, one of `events`, was read from,
        and the bytes it was read as."""
        d = self._by_event[id(event)]
        return d.topic, d.value if d.value is not None else event.SerializeToString()

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Calls `callback` once the batch's transaction has committed."""
        self._after.append(callback)

    def count(self, counter: Counter, amount: float = 1) -> None:
        """Adds `amount` to `counter` (a labelled child) once the batch committed."""
        if amount:
            self._after.append(functools.partial(counter.inc, amount))

    def reject(self, event: envelope_pb2.Envelope, reason: str, kind: str = "rejected") -> None:
        """Sends `event` (one of `events`) to the dead-letter topic; the handler skips it."""
        self._rejected.append((self._by_event[id(event)], InvalidEvent(reason, kind)))


# Applies the new events of a batch; see Batch.
BatchHandler = Callable[[Batch], Awaitable[None]]


@dataclasses.dataclass(slots=True)
class Applied:
    """What applying a batch produced, to write and run around its commit."""

    emitted: list[outbox.Row] = dataclasses.field(default_factory=list)
    after_commit: list[Callable[[], object]] = dataclasses.field(default_factory=list)


class Bisect(Exception):
    """The batch failed because of its data: apply it again, with `careful` set."""


async def apply(
    conn: asyncpg.Connection,
    consumer: str,
    handler: BatchHandler,
    deliveries: list[Delivery],
    *,
    careful: bool = False,
    record: bool = True,
) -> Applied:
    """Applies the decoded `deliveries` not in the inbox yet, inside the caller's transaction.

    Records each new event in `applied_events` and hands them all to `handler` at once.
    Marks each delivery `duplicate` or, when it can never be applied, sets its `failure`
    (its inbox row is removed again, so a replay can apply it later).

    The handler runs without a savepoint, since almost every batch succeeds: saving two
    round trips per batch. When the data makes it fail, this raises Bisect and the caller
    rolls back and applies the batch again with `careful` set, which runs the handler in
    savepoints and halves the batch until the events at fault are found.

    With `record` false the handler is idempotent by itself (its writes are keyed by the
    event, so applying one twice changes nothing): the inbox then keeps no row per event,
    and drops only the repeats within the batch.

    Raises:
        Bisect: the batch must be applied again, carefully.
        Exception: a fault of the environment (see faults.environment_fault): the caller
            rolls the transaction back and retries.
    """
    result = Applied()
    if not deliveries:
        return result
    if record:
        inserted = await conn.fetch(
            "INSERT INTO applied_events (consumer, topic, tenant_id, event_id) "
            "SELECT $1, t, n, e FROM unnest($2::text[], $3::text[], $4::uuid[]) AS x(t, n, e) "
            "ON CONFLICT DO NOTHING RETURNING topic, tenant_id, event_id::text",
            consumer,
            *db.columns([_key(d) for d in deliveries], 3),
        )
        fresh = {(r[0], r[1], r[2]) for r in inserted}
    else:
        fresh = {_key(d) for d in deliveries}
    new: list[Delivery] = []
    for d in deliveries:
        key = _key(d)
        if key in fresh:
            fresh.discard(key)  # the same event twice in one batch applies once
            new.append(d)
        else:
            d.duplicate = True
    if new and careful:
        await _bisect(conn, consumer, handler, new, result)
    elif new:
        batch = Batch(conn, new)
        try:
            await handler(batch)
        except Exception as exc:
            if environment_fault(exc) is not None:
                raise
            raise Bisect from exc
        _collect(batch, result)
    failed = [d for d in new if d.failure is not None]
    if failed and record:
        await conn.execute(
            "DELETE FROM applied_events WHERE consumer = $1 AND (topic, tenant_id, event_id) IN "
            "(SELECT * FROM unnest($2::text[], $3::text[], $4::uuid[]))",
            consumer,
            *db.columns([_key(d) for d in failed], 3),
        )
    return result


def _key(d: Delivery) -> tuple[str, str, str]:
    """What the inbox knows an applied event by (with the consumer): topic, tenant, id."""
    return (d.topic, d.envelope.tenant_id, d.envelope.event_id)  # type: ignore[union-attr]


async def _bisect(
    conn: asyncpg.Connection,
    consumer: str,
    handler: BatchHandler,
    deliveries: list[Delivery],
    result: Applied,
) -> None:
    """Applies `deliveries` in a savepoint; when the data makes that fail, each half alone.

    The halves are applied in order, so the outcome equals applying every event in order
    with the ones at fault left out. One bad event among n costs about 2 log2(n) tries.
    """
    batch = Batch(conn, deliveries)
    try:
        async with conn.transaction():  # a savepoint
            await handler(batch)
    except Exception as exc:
        if environment_fault(exc) is not None:
            raise
        if len(deliveries) > 1:
            middle = len(deliveries) // 2
            await _bisect(conn, consumer, handler, deliveries[:middle], result)
            await _bisect(conn, consumer, handler, deliveries[middle:], result)
            return
        (d,) = deliveries
        if isinstance(exc, InvalidEvent):
            d.failure = exc
        else:  # a bug, or data the event's SQL rejects
            log.exception(
                "handler failed on one event; dead-lettering it",
                extra={"consumer": consumer, "event_id": d.envelope.event_id},  # type: ignore[union-attr]
            )
            d.failure = InvalidEvent(
                f"handler failed: {type(exc).__name__}: {exc}", "handler_error"
            )
        return
    _collect(batch, result)


def _collect(batch: Batch, result: Applied) -> None:
    for d, why in batch._rejected:
        d.failure = why
    result.emitted.extend(batch._emitted)
    result.after_commit.extend(batch._after)
