"""Fan-out of recognition events to the agents' live streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from accolade.runtime.inbox import InvalidEvent, decode
from accolade.runtime.metrics import Metrics
from accolade.v1 import envelope_pb2

log = logging.getLogger(__name__)

# What an agent's console is told about, live.
LIVE_PAYLOADS = frozenset({"badge_awarded", "level_reached", "challenge_completed"})

Queue = asyncio.Queue[envelope_pb2.Envelope | None]


class Hub:
    """Follows the recognition topics and hands each event to the streams watching its agent.

    Every gateway replica reads every partition from the end, outside any consumer group:
    the stream is live notification (agents read their history through the services), and
    skipping the group join makes a replica ready at once. The partitions are looked up
    again every `refresh_seconds`, so recreated or grown topics are followed.

    `run` opens a consumer of its own each time it starts and closes it when it ends, so a
    hub that failed and is started again (the runtime supervises it) begins afresh; it is
    `ready` only while it follows its partitions.
    """

    def __init__(
        self,
        consumer: Callable[[], AIOKafkaConsumer],
        producer: AIOKafkaProducer,
        topics: list[str],
        metrics: Metrics,
        *,
        queue_size: int = 256,
        refresh_seconds: float = 5.0,
    ) -> None:
        self._new_consumer = consumer
        self._producer = producer
        self._topics = topics
        self._metrics = metrics
        self._queue_size = queue_size
        self._refresh_seconds = refresh_seconds
        self._watchers: dict[tuple[str, str], set[Queue]] = defaultdict(set)
        self.ready = False

    async def _assign(self, consumer: AIOKafkaConsumer) -> None:
        # The producer's client lists partitions without asking for topics by name, which
        # some brokers answer by creating them.
        cluster = await self._producer.client.fetch_all_metadata()
        wanted = {
            TopicPartition(t, p)
            for t in self._topics
            for p in cluster.partitions_for_topic(t) or ()
        }
        if wanted == consumer.assignment():
            return
        new = wanted - consumer.assignment()
        # assign() forgets every position; the partitions kept resume where they were, or
        # what was published to them meanwhile would be skipped.
        kept = {tp: await consumer.position(tp) for tp in wanted & consumer.assignment()}
        consumer.assign(sorted(wanted))
        for tp, position in kept.items():
            consumer.seek(tp, position)
        if new:
            await consumer.seek_to_end(*new)
            for tp in new:  # resolve "end" now, so nothing after `ready` is skipped
                await consumer.position(tp)
        self.ready = bool(wanted)

    async def run(self) -> None:
        """Follows the topics until cancelled; raises when following them fails."""
        self.ready = False
        consumer = self._new_consumer()
        await consumer.start()
        try:
            await self._follow(consumer)
        finally:
            self.ready = False
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await consumer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        loop = asyncio.get_running_loop()
        next_refresh = 0.0
        while True:
            if loop.time() >= next_refresh:
                try:
                    await self._assign(consumer)
                except Exception as exc:  # noqa: BLE001 - keep serving streams; retry soon
                    log.warning("cannot list recognition partitions", extra={"error": repr(exc)})
                next_refresh = loop.time() + self._refresh_seconds
            if not consumer.assignment():
                await asyncio.sleep(0.2)
                continue
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    self._metrics.events_consumed.labels(record.topic).inc()
                    try:
                        envelope = decode(record.value)
                    except InvalidEvent as exc:
                        log.warning(
                            "skipping bad recognition message", extra={"reason": exc.reason}
                        )
                        continue
                    if envelope.WhichOneof("payload") in LIVE_PAYLOADS:
                        self.publish(envelope)
                        self._metrics.events_applied.labels(record.topic).inc()

    def publish(self, envelope: envelope_pb2.Envelope) -> None:
        """Hands `envelope` to every stream watching its agent."""
        for queue in list(self._watchers.get((envelope.tenant_id, envelope.agent_id), ())):
            try:
                queue.put_nowait(envelope)
            except asyncio.QueueFull:
                # End a stream that fell behind rather than hold up everyone else's.
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    @contextlib.asynccontextmanager
    async def watch(self, tenant_id: str, agent_id: str) -> AsyncIterator[Queue]:
        """A queue receiving the agent's live events while the context is open."""
        queue: Queue = asyncio.Queue(self._queue_size)
        key = (tenant_id, agent_id)
        self._watchers[key].add(queue)
        try:
            yield queue
        finally:
            self._watchers[key].discard(queue)
            if not self._watchers[key]:
                del self._watchers[key]
