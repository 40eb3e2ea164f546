"""The inbox consumer: reads a batch from Kafka, applies it exactly once, then commits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord

from accolade.runtime import deadletters, inbox, outbox
from accolade.runtime.faults import RETRY_REASONS, environment_fault
from accolade.runtime.inbox import DEAD_LETTER_KINDS, BatchHandler, Delivery
from accolade.runtime.metrics import Metrics

log = logging.getLogger(__name__)

# How often a consumer looks for dead letters an operator asked to replay.
REPLAY_POLL_SECONDS = 1.0


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

    For each batch: decode every message, then in one transaction record the new event ids
    in `applied_events`, hand the new events to the handler at once, keep what can never be
    applied as dead letters, and write everything emitted to the outbox with one insert;
    commit the Kafka offsets only after that transaction. A crash anywhere redelivers the
    batch, and the inbox skips what was applied. A fault of the environment (database,
    broker, disk) rolls the batch back and retries it, never dead-letters it.
    """

    def __init__(
        self,
        *,
        name: str,
        consumer: AIOKafkaConsumer,
        pool: asyncpg.Pool,
        handler: BatchHandler,
        topics: Mapping[str, str],
        dead_letter_topic: str,
        metrics: Metrics,
        batch_size: int = 1000,
    ) -> None:
        """Args:
        name: "<service>.<consumer>", which keys the inbox and the dead letters.
        consumer: a group member, not started.
        pool: the service's pool.
        handler: applies the new events of a batch.
        topics: the full names of the topics to read, each to its logical name.
        dead_letter_topic: where dead letters are published.
        metrics: the service's metrics.
        batch_size: the most messages applied in one transaction.
        """
        self.name = name
        self._consumer = consumer
        self._pool = pool
        self._handler = handler
        self._topics = dict(topics)
        self._dead_letter_topic = dead_letter_topic
        self._metrics = metrics
        self._batch_size = batch_size
        self._lock = asyncio.Lock()
        self._stopped = asyncio.Event()
        self.rebalance_listener = _Rebalance(self._lock, metrics)

    async def start(self) -> None:
        """Joins the group for the topics."""
        # Every labelled series exists from the start at 0, so increase() counts the first.
        for topic in self._topics:
            for kind in DEAD_LETTER_KINDS:
                self._metrics.dead_lettered.labels(topic, kind)
        for reason in RETRY_REASONS:
            self._metrics.consumer_retries.labels(self.name, reason)
        self._consumer.subscribe(list(self._topics), listener=self.rebalance_listener)
        await self._consumer.start()

    async def stop(self) -> None:
        """Asks `run` to return once the batch in flight is committed."""
        self._stopped.set()

    async def close(self) -> None:
        """Leaves the group; call after `run` has returned."""
        await self._consumer.stop()

    async def run(self) -> None:
        """Consumes until `stop`; a failed batch is retried from its first offsets."""
        loop = asyncio.get_running_loop()
        backoff = 0.2
        next_replay = loop.time()
        while not self._stopped.is_set():
            batch = await self._consumer.getmany(timeout_ms=200, max_records=self._batch_size)
            async with self._lock:
                try:
                    if batch:
                        await self._process(batch)
                    if loop.time() >= next_replay:
                        next_replay = loop.time() + REPLAY_POLL_SECONDS
                        await self.replay_requested()
                    backoff = 0.2
                except Exception as exc:  # noqa: BLE001 - a consumer must never die quietly
                    self._retrying(exc, backoff)
                    self._rewind(batch)
                    with contextlib.suppress(TimeoutError):  # a stop ends the pause
                        await asyncio.wait_for(self._stopped.wait(), backoff)
                    backoff = min(backoff * 2, 5.0)
            await self._report_lag()

    def _retrying(self, exc: Exception, backoff: float) -> None:
        reason = environment_fault(exc)
        extra = {
            "consumer": self.name,
            "error": repr(exc),
            "reason": reason or "unexpected",
            "retry_in": backoff,
        }
        if reason is None:
            # Not the environment, and not one event's fault either (those are dead-lettered
            # inside the batch): a bug outside the handler. Keep the stack.
            log.exception("batch failed; retrying", extra=extra)
        else:
            log.warning("batch failed on the environment; retrying", extra=extra)
        self._metrics.consumer_retries.labels(self.name, reason or "unexpected").inc()

    def _rewind(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        for tp, records in batch.items():
            # A partition no longer assigned is the new owner's, from the committed offset.
            with contextlib.suppress(IllegalStateError):
                self._consumer.seek(tp, records[0].offset)

    async def _process(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        deliveries = []
        for records in batch.values():
            for r in records:
                self._metrics.events_consumed.labels(r.topic).inc()
                d = Delivery(self._topics[r.topic], r.topic, r.partition, r.offset, r.key, r.value)
                d.decode()
                deliveries.append(d)
        async with self._pool.acquire() as conn, conn.transaction():
            applied = await inbox.apply(
                conn, self.name, self._handler, [d for d in deliveries if d.failure is None]
            )
            dead, letters = await deadletters.record(
                conn, self.name, self._dead_letter_topic, [d for d in deliveries if d.failure]
            )
            await outbox.write(conn, applied.emitted + letters)
        await self._commit(batch)
        # Counted only now: a batch that was retried counts once.
        self._count(deliveries, applied)
        for d in dead:
            log.warning(
                "dead-lettered message",
                extra={
                    "consumer": self.name,
                    "topic": d.source_topic,
                    "offset": d.offset,
                    "reason": d.failure.reason,  # type: ignore[union-attr]
                },
            )
            self._metrics.dead_lettered.labels(d.source_topic, d.failure.kind).inc()  # type: ignore[union-attr]

    def _count(self, deliveries: list[Delivery], applied: inbox.Applied) -> None:
        counts = Counter(
            (d.source_topic, d.duplicate) for d in deliveries if d.failure is None and d.envelope
        )
        for (topic, duplicate), n in counts.items():
            (self._metrics.events_duplicate if duplicate else self._metrics.events_applied).labels(
                topic
            ).inc(n)
        for callback in applied.after_commit:
            callback()

    async def replay_requested(self) -> int:
        """Replays the dead letters an operator asked for; returns how many were taken.

        A replayed event goes through the inbox like any other, so one applied before (or
        by an earlier replay) is a duplicate; one that fails again keeps its letter, with
        the new reason. Letters are locked while replayed, so replicas share the work.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await deadletters.claim_replays(conn, self.name, self._batch_size)
            if not claimed:
                return 0
            for c in claimed:
                c.delivery.decode()
            deliveries = [c.delivery for c in claimed]
            applied = await inbox.apply(
                conn, self.name, self._handler, [d for d in deliveries if d.failure is None]
            )
            await deadletters.finish_replays(conn, claimed)
            await outbox.write(conn, applied.emitted)
        self._count(deliveries, applied)
        outcomes = Counter(deadletters.outcome(d) for d in deliveries)
        for outcome, n in outcomes.items():
            self._metrics.dead_letters_replayed.labels(self.name, outcome).inc(n)
        log.info("replayed dead letters", extra={"consumer": self.name, **outcomes})
        return len(claimed)

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
