"""The inbox consumer: reads a batch from Kafka, applies it exactly once, then commits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping

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
    def __init__(
        self,
        lock: asyncio.Lock,
        metrics: Metrics,
        commit: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._lock = lock
        self._metrics = metrics
        self._commit = commit

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        # Wait for the batch in flight, then commit what was applied, before giving
        # partitions away: the new owner starts where this one stopped.
        async with self._lock:
            if self._commit is not None:
                with contextlib.suppress(Exception):
                    await self._commit()
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
        linger: float = 0.02,
        commit_interval: float = 0.5,
        record: bool = True,
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
        linger: how long a small batch waits for more messages before it is applied.
        commit_interval: how often applied offsets are committed to Kafka. Only applied
            offsets are ever committed, whenever that is (and always before partitions
            are given away or the consumer stops); committing less often than every batch
            saves a broker round trip per batch, and a crash redelivers a little more,
            which the inbox skips.
        record: whether the inbox records each applied event; false for a handler that
            is idempotent by itself (see inbox.apply).
        """
        self.name = name
        self._consumer = consumer
        self._pool = pool
        self._handler = handler
        self._topics = dict(topics)
        self._dead_letter_topic = dead_letter_topic
        self._metrics = metrics
        self._batch_size = batch_size
        self._linger = linger
        self._commit_interval = commit_interval
        self._record = record
        self._lock = asyncio.Lock()
        self._stopped = asyncio.Event()
        # Offsets applied (their transaction committed) but not yet committed to Kafka.
        self._applied: dict[TopicPartition, int] = {}
        self._next_commit = 0.0
        self._joined = False
        self.rebalance_listener = _Rebalance(self._lock, metrics, self._commit_applied)

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
        self._joined = True

    async def stop(self) -> None:
        """Asks `run` to return once the batch in flight is committed."""
        self._stopped.set()

    async def close(self) -> None:
        """Leaves the group; call after `run` has returned."""
        await self._consumer.stop()

    async def run(self) -> None:
        """Joins the group, then consumes until `stop`; a failed batch is retried from its
        first offsets. A stop while joining (which takes seconds on some brokers) ends the
        join. (Tests may `start` first, to know the group is joined.)"""
        if self._joined:
            await self._consume()
            return
        joining = asyncio.ensure_future(self.start())
        stopping = asyncio.ensure_future(self._stopped.wait())
        await asyncio.wait({joining, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not joining.done():
            joining.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await joining
            return
        joining.result()
        await self._consume()

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.2
        next_replay = loop.time()
        try:
            while not self._stopped.is_set():
                batch = await self._gather()
                async with self._lock:
                    try:
                        if batch:
                            await self._process(batch)
                        if not batch or loop.time() >= self._next_commit:
                            await self._commit_applied()
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
        finally:
            async with self._lock:
                with contextlib.suppress(Exception):
                    await self._commit_applied()

    async def _gather(self) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The next batch: what has arrived, and what arrives within the linger if it is small.

        A batch costs a few round trips whatever its size; lingering a little when events
        trickle in keeps the cost per event low, for a few milliseconds of latency.
        """
        batch: dict[TopicPartition, list[ConsumerRecord]] = await self._consumer.getmany(
            timeout_ms=200, max_records=self._batch_size
        )
        count = sum(map(len, batch.values()))
        if not batch or count >= self._batch_size or self._linger <= 0:
            return batch
        deadline = asyncio.get_running_loop().time() + self._linger
        while count < self._batch_size:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            more = await self._consumer.getmany(
                timeout_ms=max(1, int(left * 1000)), max_records=self._batch_size - count
            )
            for tp, records in more.items():
                batch.setdefault(tp, []).extend(records)
                count += len(records)
        return batch

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
        for tp, records in batch.items():
            self._metrics.events_consumed.labels(tp.topic).inc(len(records))
            topic = self._topics[tp.topic]
            for r in records:
                d = Delivery(topic, r.topic, r.partition, r.offset, r.key, r.value)
                d.decode()
                deliveries.append(d)
        try:
            applied, dead = await self._apply(deliveries, careful=False)
        except inbox.Bisect:
            for d in deliveries:
                d.duplicate = False
            applied, dead = await self._apply(deliveries, careful=True)
        for tp, records in batch.items():
            self._applied[tp] = records[-1].offset + 1
        # Counted only now: a batch that was retried counts once.
        self._metrics.consumer_batch_messages.labels(self.name).observe(len(deliveries))
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

    async def _apply(
        self, deliveries: list[Delivery], *, careful: bool
    ) -> tuple[inbox.Applied, list[Delivery]]:
        """Applies a batch in one transaction; returns what it produced and the new letters."""
        async with self._pool.acquire() as conn, conn.transaction():
            applied = await inbox.apply(
                conn,
                self.name,
                self._handler,
                [d for d in deliveries if d.envelope is not None],
                careful=careful,
                record=self._record,
            )
            dead, letters = await deadletters.record(
                conn, self.name, self._dead_letter_topic, [d for d in deliveries if d.failure]
            )
            await outbox.write(conn, applied.emitted + letters)
        return applied, dead

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
            # Replays are rare: apply them carefully from the start.
            applied = await inbox.apply(
                conn,
                self.name,
                self._handler,
                [d for d in deliveries if d.failure is None],
                careful=True,
                record=self._record,
            )
            await deadletters.finish_replays(conn, claimed)
            await outbox.write(conn, applied.emitted)
        self._count(deliveries, applied)
        outcomes = Counter(deadletters.outcome(d) for d in deliveries)
        for outcome, n in outcomes.items():
            self._metrics.dead_letters_replayed.labels(self.name, outcome).inc(n)
        log.info("replayed dead letters", extra={"consumer": self.name, **outcomes})
        return len(claimed)

    async def _commit_applied(self) -> None:
        """Commits the offsets of what was applied since the last commit."""
        self._next_commit = asyncio.get_running_loop().time() + self._commit_interval
        if not self._applied:
            return
        offsets, self._applied = self._applied, {}
        await self._commit(offsets)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
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
