"""Exactly-once consumption: apply a batch and record its event ids in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord
from google.protobuf.message import DecodeError

from accolade.runtime.logs import correlation_id
from accolade.runtime.metrics import Metrics
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

# Failures that say nothing about the event: the whole batch is retried after a pause.
TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    KafkaError,
)

# Applies one new event inside the batch's transaction. May write state and outbox rows on
# `conn`; raises InvalidEvent for a message that can never be applied.
Handler = Callable[[asyncpg.Connection, envelope_pb2.Envelope], Awaitable[None]]


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
        envelope.event_id = str(uuid.UUID(envelope.event_id))
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


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, lock: asyncio.Lock, metrics: Metrics) -> None:
        self._lock = lock
        self._metrics = metrics

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        # Wait for the batch in flight to commit its offsets before giving partitions away.
        async with self._lock:
            pass
        # Their lag is the new owner's to report; a stale value here would mislead alerts.
        for tp in revoked:
            with contextlib.suppress(KeyError):
                self._metrics.consumer_lag.remove(tp.topic, str(tp.partition))

    async def on_partitions_assigned(self, assigned: object) -> None:
        log.info("partitions assigned", extra={"partitions": str(sorted(map(str, assigned)))})  # type: ignore[call-overload]


class InboxConsumer:
    """Consumes topics as one consumer group and applies each event exactly once.

    For each batch: decode every message (undecodable or invalid ones go to the
    dead-letter topic with the reason), then in one transaction apply each event not yet
    in `applied_events` and record its id; commit the Kafka offsets only after that
    transaction. A crash anywhere redelivers the batch, and the inbox skips what was applied.
    """

    def __init__(
        self,
        *,
        name: str,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        pool: asyncpg.Pool,
        handler: Handler,
        dead_letter_topic: str,
        metrics: Metrics,
    ) -> None:
        self.name = name
        self._consumer = consumer
        self._producer = producer
        self._pool = pool
        self._handler = handler
        self._dead_letter_topic = dead_letter_topic
        self._metrics = metrics
        self._lock = asyncio.Lock()
        self._stopped = asyncio.Event()
        self.rebalance_listener = _Rebalance(self._lock, metrics)

    async def start(self, topics: Sequence[str]) -> None:
        """Joins the group for `topics`."""
        # Every (topic, kind) series exists from the start at 0, so increase() over it
        # counts the first dead letter too.
        for topic in topics:
            for kind in DEAD_LETTER_KINDS:
                self._metrics.dead_lettered.labels(topic, kind)
        self._consumer.subscribe(list(topics), listener=self.rebalance_listener)
        await self._consumer.start()

    async def stop(self) -> None:
        """Asks `run` to return once the batch in flight is committed."""
        self._stopped.set()

    async def close(self) -> None:
        """Leaves the group; call after `run` has returned."""
        await self._consumer.stop()

    async def run(self) -> None:
        """Consumes until `stop`; a failed batch is retried from its first offsets."""
        backoff = 0.2
        while not self._stopped.is_set():
            batch = await self._consumer.getmany(timeout_ms=200, max_records=500)
            if not batch:
                await self._report_lag()
                continue
            async with self._lock:
                try:
                    await self._process(batch)
                    backoff = 0.2
                except Exception as exc:  # a consumer must never die quietly
                    if isinstance(exc, TRANSIENT):
                        log.warning(
                            "batch failed; retrying",
                            extra={"consumer": self.name, "error": repr(exc), "retry_in": backoff},
                        )
                    else:
                        log.exception("batch failed; retrying", extra={"consumer": self.name})
                    self._rewind(batch)
                    with contextlib.suppress(TimeoutError):  # a stop ends the pause
                        await asyncio.wait_for(self._stopped.wait(), backoff)
                    backoff = min(backoff * 2, 5.0)
            await self._report_lag()

    def _rewind(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        for tp, records in batch.items():
            # A partition no longer assigned is the new owner's, from the committed offset.
            with contextlib.suppress(IllegalStateError):
                self._consumer.seek(tp, records[0].offset)

    async def _process(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        decoded: list[tuple[ConsumerRecord, envelope_pb2.Envelope]] = []
        dead: list[tuple[ConsumerRecord, InvalidEvent]] = []
        for records in batch.values():
            for record in records:
                self._metrics.events_consumed.labels(record.topic).inc()
                try:
                    decoded.append((record, decode(record.value)))
                except InvalidEvent as exc:
                    dead.append((record, exc))

        async with self._pool.acquire() as conn, conn.transaction():
            new = await conn.fetch(
                "INSERT INTO applied_events (consumer, tenant_id, event_id) "
                "SELECT $1, t, e::uuid FROM unnest($2::text[], $3::text[]) AS x(t, e) "
                "ON CONFLICT DO NOTHING RETURNING tenant_id, event_id::text",
                self.name,
                [e.tenant_id for _, e in decoded],
                [e.event_id for _, e in decoded],
            )
            fresh = {(r["tenant_id"], r["event_id"]) for r in new}
            for record, envelope in decoded:
                key = (envelope.tenant_id, envelope.event_id)
                if key not in fresh:
                    self._metrics.events_duplicate.labels(record.topic).inc()
                    continue
                fresh.discard(key)  # the same event twice in one batch applies once
                if rejected := await self._apply(conn, envelope):
                    dead.append((record, rejected))
                else:
                    self._metrics.events_applied.labels(record.topic).inc()
            # Dead letters go out before the commit: if sending fails, the batch is retried
            # whole, so a rejected event is never recorded as applied without its letter.
            for record, rejected in dead:
                await self._dead_letter(record, rejected)
        await self._commit(batch)

    async def _apply(
        self, conn: asyncpg.Connection, envelope: envelope_pb2.Envelope
    ) -> InvalidEvent | None:
        """Applies one event in a savepoint; returns why it was rejected, if it was."""
        token = correlation_id.set(envelope.event_id)
        try:
            async with conn.transaction():  # a savepoint: a rejected event undoes only itself
                await self._handler(conn, envelope)
        except InvalidEvent as exc:
            return exc
        except TRANSIENT:
            raise
        except Exception as exc:  # a bug, or data one event's SQL rejects
            log.exception("handler failed; dead-lettering the event", extra={"consumer": self.name})
            return InvalidEvent(f"handler failed: {type(exc).__name__}: {exc}", "handler_error")
        finally:
            correlation_id.reset(token)
        return None

    async def _dead_letter(self, record: ConsumerRecord, exc: InvalidEvent) -> None:
        log.warning(
            "dead-lettering message",
            extra={
                "consumer": self.name,
                "topic": record.topic,
                "offset": record.offset,
                "reason": exc.reason,
            },
        )
        await self._producer.send_and_wait(
            self._dead_letter_topic,
            record.value,
            key=record.key,
            headers=[
                ("reason", exc.reason.encode()),
                ("kind", exc.kind.encode()),
                ("source_topic", record.topic.encode()),
                ("source_partition", str(record.partition).encode()),
                ("source_offset", str(record.offset).encode()),
                ("consumer", self.name.encode()),
            ],
        )
        self._metrics.dead_lettered.labels(record.topic, exc.kind).inc()

    async def _commit(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced; the batch is applied, so redelivery will be skipped.
            log.info("offset commit after rebalance skipped", extra={"error": repr(exc)})

    async def _report_lag(self) -> None:
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await self._consumer.position(tp)
            except IllegalStateError:
                continue
            self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                max(0, highwater - position)
            )
