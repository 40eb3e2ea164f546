"""The transactional outbox: events are written with the state change, then relayed to Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from accolade.runtime.kafka import ensure_topics, envelope_key
from accolade.runtime.metrics import Metrics
from accolade.runtime.settings import Settings
from accolade.v1 import envelope_pb2

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "accolade_outbox"
_BATCH = 500


async def add(
    conn: asyncpg.Connection, topic: str, envelopes: Sequence[envelope_pb2.Envelope]
) -> None:
    """Records `envelopes` for publication to `topic`, in the caller's transaction.

    The relay is woken when the transaction commits.
    """
    if not envelopes:
        return
    await conn.executemany(
        "INSERT INTO outbox (topic, key, event_id, payload) VALUES ($1, $2, $3, $4)",
        [(topic, envelope_key(e), e.event_id, e.SerializeToString()) for e in envelopes],
    )
    await conn.execute("SELECT pg_notify($1, current_schema())", NOTIFY_CHANNEL)


def _lost(conn: asyncpg.Connection) -> bool:
    """Whether a pooled connection is gone: closed, or already detached by the pool."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        # The pool detaches a connection the server terminated; asking it anything raises.
        return True


class OutboxRelay:
    """Publishes a schema's outbox to Kafka in id order, and again if the broker forgets it.

    Only one relay per schema publishes at a time (an advisory lock), which keeps each
    agent's events in order when a service runs several replicas. Published rows are kept
    for `settings.outbox_retention_seconds`. Each topic has a single writing service, so
    the broker losing its log shows in two ways: a new offset at or below one this relay
    already saw, or (while idle) a partition's end offset at or below it. Either way every
    retained row of that topic is published again, and consumers deduplicate by event id.
    """

    def __init__(
        self,
        settings: Settings,
        schema: str,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        probe: AIOKafkaConsumer,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._schema = schema
        self._pool = pool
        self._producer = producer
        self._probe = probe
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        # Per (topic, partition): the highest offset the broker assigned to this relay, and
        # the first offset of the last batch it published there.
        self._high: dict[tuple[str, int], int] = {}
        self._last_base: dict[tuple[str, int], int] = {}

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload == self._schema:
            self._wake.set()

    async def run(self, check_interval: float = 1.0, idle_poll: float = 0.5) -> None:
        """Relays until `stop`; survives broker and database outages by retrying."""
        listener: asyncpg.Connection | None = None
        last_check = last_purge = 0.0
        backoff = 0.2
        try:
            while not self._stopped.is_set():
                try:
                    if listener is not None and _lost(listener):
                        # Only the listening connection died: listen again on a new one.
                        await self._pool.release(listener)
                        listener = None
                    if listener is None:
                        listener = await self._pool.acquire()
                        await listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
                        await self.load_high_water()
                    now = time.monotonic()
                    if now - last_check >= check_interval:
                        # Before publishing, so new rows cannot hide an emptied log.
                        last_check = now
                        await self.check_broker_log()
                    await self.publish_pending()
                    if now - last_purge >= 60:
                        last_purge = now
                        await self.purge()
                    backoff = 0.2
                except Exception as exc:  # noqa: BLE001 - the relay must outlive any outage
                    log.warning(
                        "outbox relay failed; retrying",
                        extra={"error": repr(exc), "retry_in": backoff},
                    )
                    if listener is not None and _lost(listener):
                        await self._pool.release(listener)
                        listener = None
                    with contextlib.suppress(TimeoutError):  # a stop ends the pause
                        await asyncio.wait_for(self._stopped.wait(), backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), idle_poll)
                self._wake.clear()
            with contextlib.suppress(Exception):
                await self.publish_pending()
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                await self._pool.release(listener)

    async def stop(self) -> None:
        """Asks `run` to return after one last publication attempt."""
        self._stopped.set()
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publishes every unpublished row; returns how many."""
        total = 0
        while True:
            regressed: set[str] = set()
            async with self._pool.acquire() as conn, conn.transaction():
                if not await conn.fetchval(
                    "SELECT pg_try_advisory_xact_lock(hashtext($1))", f"outbox:{self._schema}"
                ):
                    # Another replica publishes; every replica still reports the backlog.
                    self._metrics.outbox_backlog.set(
                        await conn.fetchval(
                            "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                        )
                    )
                    return total
                rows = await conn.fetch(
                    "SELECT id, topic, key, payload FROM outbox WHERE published_at IS NULL "
                    "ORDER BY id LIMIT $1",
                    _BATCH,
                )
                if not rows:
                    self._metrics.outbox_backlog.set(0)
                    return total
                futures = [
                    await self._producer.send(r["topic"], r["payload"], key=r["key"]) for r in rows
                ]
                sent = await asyncio.gather(*futures)
                spans: dict[tuple[str, int], tuple[int, int]] = {}
                for r, m in zip(rows, sent, strict=True):
                    key = (r["topic"], m.partition)
                    if m.offset <= self._high.get(key, -1):
                        regressed.add(r["topic"])
                    lo, hi = spans.get(key, (m.offset, m.offset))
                    spans[key] = (min(lo, m.offset), max(hi, m.offset))
                for key, (lo, hi) in spans.items():
                    self._last_base[key] = lo
                    self._high[key] = max(self._high.get(key, -1), hi)
                await conn.executemany(
                    "UPDATE outbox SET published_at = now(), kafka_partition = $2, kafka_offset = $3 "
                    "WHERE id = $1",
                    [(r["id"], m.partition, m.offset) for r, m in zip(rows, sent, strict=True)],
                )
                for r in rows:
                    self._metrics.outbox_published.labels(r["topic"]).inc()
                total += len(rows)
                backlog = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                )
                self._metrics.outbox_backlog.set(backlog)
            if regressed:
                await self._republish(regressed)

    async def load_high_water(self) -> None:
        """Learns where the retained rows were published (after a restart).

        Rows published together share their `published_at` (one transaction), which tells
        the last batch of each partition.
        """
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """
                SELECT o.topic, o.kafka_partition, max(o.kafka_offset) AS high,
                       min(o.kafka_offset) FILTER (WHERE o.published_at = l.last) AS base
                FROM outbox o
                JOIN (SELECT topic, kafka_partition, max(published_at) AS last FROM outbox
                      WHERE published_at IS NOT NULL GROUP BY topic, kafka_partition) l
                  USING (topic, kafka_partition)
                WHERE o.published_at IS NOT NULL
                GROUP BY o.topic, o.kafka_partition
                """
            )
        self._high = {(r["topic"], r["kafka_partition"]): r["high"] for r in rows}
        self._last_base = {(r["topic"], r["kafka_partition"]): r["base"] for r in rows}

    async def check_broker_log(self) -> list[str]:
        """Republishes the retained rows of every topic whose log the broker lost.

        A partition counts as lost when it is gone, or when its end offset does not reach
        past the first offset of the last batch this relay published there. (Comparing
        with that batch's first offset rather than its last keeps this right on brokers
        that report the end offset as the last record batch's base offset plus one.)

        Returns:
            The topics found lost.
        """
        if not self._last_base:
            return []
        # Metadata of every topic, without asking for one by name: a broker that
        # auto-creates topics would otherwise recreate a lost one with default settings.
        cluster = await self._producer.client.fetch_all_metadata()
        lost: set[str] = set()
        partitions = []
        for topic, partition in self._last_base:
            if partition in (cluster.partitions_for_topic(topic) or set()):
                partitions.append(TopicPartition(topic, partition))
            else:
                lost.add(topic)
        if partitions:
            ends = await self._probe.end_offsets(partitions)
            lost.update(
                tp.topic
                for tp in partitions
                if ends[tp] <= self._last_base[(tp.topic, tp.partition)]
            )
        if lost:
            await self._republish(lost)
        return sorted(lost)

    async def _republish(self, topics: set[str]) -> None:
        log.warning(
            "broker lost published events; publishing them again",
            extra={"topics": ",".join(sorted(topics))},
        )
        await ensure_topics(self._settings)
        async with self._pool.acquire() as conn:
            for topic in sorted(topics):
                status = await conn.execute(
                    "UPDATE outbox SET published_at = NULL, kafka_partition = NULL, "
                    "kafka_offset = NULL WHERE topic = $1 AND published_at IS NOT NULL",
                    topic,
                )
                self._metrics.outbox_republished.labels(topic).inc(int(status.split()[-1]))
        self._high = {k: v for k, v in self._high.items() if k[0] not in topics}
        self._last_base = {k: v for k, v in self._last_base.items() if k[0] not in topics}
        self._wake.set()

    async def purge(self) -> int:
        """Deletes published rows older than the retention window; returns how many."""
        async with self._pool.acquire() as conn:
            status = await conn.execute(
                "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)",
                self._settings.outbox_retention_seconds,
            )
        return int(status.split()[-1])
