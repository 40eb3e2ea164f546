"""The outbox relay: publishes a schema's outbox to Kafka, and again if the broker forgets it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from accolade.runtime.kafka import ensure_topics
from accolade.runtime.metrics import Metrics
from accolade.runtime.outbox import NOTIFY_CHANNEL
from accolade.runtime.settings import Settings

log = logging.getLogger(__name__)

_BATCH = 1000
# How often the backlog gauge is recounted: counting after every batch would make
# draining a large backlog quadratic.
_COUNT_EVERY = 5.0
# The producer's own default: murmur2 of the key, as the Java client, so every relay (and
# any other client) puts an agent's events on the same partition.
_PARTITIONER = DefaultPartitioner()


def _lost(conn: asyncpg.Connection) -> bool:
    """Whether a pooled connection is gone: closed, or already detached by the pool."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        # The pool detaches a connection the server terminated; asking it anything raises.
        return True


class OutboxRelay:
    """Publishes a schema's outbox to Kafka in id order, and again if the broker forgets it.

    One relay per schema leads at a time: the one whose connection holds the schema's
    session advisory lock. Only the leader publishes, marks rows published, republishes
    after a broker loss, all on that one connection, so replicas never race
    and an agent's events reach its partition in the order they were written. The leader
    holds no transaction while it waits for the broker's acknowledgements: it reads a batch,
    sends it, and marks it published with one statement. Should it lose its connection (and
    so the lock) while waiting, another replica may publish the same rows again, which the
    consumers' inbox makes harmless.

    Published rows are kept for `settings.outbox_retention_seconds`. Each topic has a single
    writing service, so the broker losing its log shows in two ways: a new offset at or
    below one this relay already saw, or (checked every second) a partition's end offset
    at or below the first offset of the last batch published there. Either way every
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
        self._conn: asyncpg.Connection | None = None
        self.leader = False
        # Per (topic, partition): the highest offset the broker assigned to this relay, and
        # the first offset of the last batch it published there.
        self._high: dict[tuple[str, int], int] = {}
        self._last_base: dict[tuple[str, int], int] = {}
        self._partitions: dict[tuple[str, int, bytes], int] = {}

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload == self._schema:
            self._wake.set()

    async def run(
        self, check_interval: float = 1.0, idle_poll: float = 0.5, linger: float = 0.005
    ) -> None:
        """Relays until `stop`; survives broker and database outages by retrying.

        Args:
            check_interval: how often the broker's log is checked for a loss.
            idle_poll: how often to look for rows when no commit wakes the relay.
            linger: how long a commit's wake-up waits for more commits to join its round,
                which keeps the relay's cost per event low when calls come one at a time.
        """
        last_check = last_count = 0.0
        backoff = 0.2
        try:
            while not self._stopped.is_set():
                try:
                    await self._connect()
                    now = time.monotonic()
                    if self.leader:
                        if now - last_check >= check_interval:
                            # Before publishing, so new rows cannot hide an emptied log.
                            last_check = now
                            await self.check_broker_log()
                        await self.publish_pending()
                    if now - last_count >= _COUNT_EVERY:
                        last_count = now
                        await self.count_backlog()
                    backoff = 0.2
                except Exception as exc:  # noqa: BLE001 - the relay must outlive any outage
                    log.warning(
                        "outbox relay failed; retrying",
                        extra={"error": repr(exc), "retry_in": backoff},
                    )
                    if self._conn is not None and _lost(self._conn):
                        await self._disconnect()
                    with contextlib.suppress(TimeoutError):  # a stop ends the pause
                        await asyncio.wait_for(self._stopped.wait(), backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), idle_poll)
                    await asyncio.sleep(linger)
                self._wake.clear()
            if self.leader:
                with contextlib.suppress(Exception):
                    await self.publish_pending()
        finally:
            await self._disconnect()

    async def stop(self) -> None:
        """Asks `run` to return after one last publication attempt."""
        self._stopped.set()
        self._wake.set()

    async def close(self) -> None:
        """Gives up the lead and the connection (`run` does so itself when it returns)."""
        await self._disconnect()

    async def _connect(self) -> asyncpg.Connection:
        """The relay's own connection, listening for commits; takes the lead when free."""
        if self._conn is not None and _lost(self._conn):
            await self._disconnect()
        if self._conn is None:
            conn = await self._pool.acquire()
            try:
                # Marking rows published need not wait for the WAL to reach the disk (an
                # fsync, several milliseconds on every round): a mark that a crash loses
                # only publishes its row again, which consumers skip, and a lost log is
                # found again from the broker. (The pool's reset undoes this on release.)
                await conn.execute("SET synchronous_commit = off")
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            except BaseException:
                await self._pool.release(conn)
                raise
            self._conn = conn
        if not self.leader:
            self.leader = bool(
                await self._conn.fetchval(
                    "SELECT pg_try_advisory_lock(hashtext($1))", f"outbox:{self._schema}"
                )
            )
            if self.leader:
                log.info("outbox relay leads publication", extra={"schema": self._schema})
                await self.load_high_water()
        return self._conn

    async def _disconnect(self) -> None:
        conn, self._conn, self.leader = self._conn, None, False
        if conn is None:
            return
        if not _lost(conn):
            with contextlib.suppress(Exception):
                await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                await conn.execute("SELECT pg_advisory_unlock_all()")
        await self._pool.release(conn)

    async def count_backlog(self) -> int:
        """Counts the unpublished rows into the backlog gauge (every replica reports it)."""
        executor = self._conn or self._pool
        backlog = int(
            await executor.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        )
        self._metrics.outbox_backlog.set(backlog)
        return backlog

    async def publish_pending(self) -> int:
        """Publishes every unpublished row, if this relay leads; returns how many."""
        conn = await self._connect()
        if not self.leader:
            return 0
        total = 0
        while True:
            pending = await conn.fetch(
                "SELECT id, topic, key, payload, headers FROM outbox WHERE published_at IS NULL "
                "ORDER BY id LIMIT $1",
                _BATCH,
            )
            if not pending:
                self._metrics.outbox_backlog.set(0)
                return total
            sent = await self._send(pending)
            regressed: set[str] = set()
            spans: dict[tuple[str, int], tuple[int, int]] = {}
            published: dict[str, int] = {}
            for r, (partition, offset) in zip(pending, sent, strict=True):
                key = (r["topic"], partition)
                if offset <= self._high.get(key, -1):
                    regressed.add(r["topic"])
                lo, hi = spans.get(key, (offset, offset))
                spans[key] = (min(lo, offset), max(hi, offset))
                published[r["topic"]] = published.get(r["topic"], 0) + 1
            for key, (lo, hi) in spans.items():
                self._last_base[key] = lo
                self._high[key] = max(self._high.get(key, -1), hi)
            # One statement, one timestamp: rows published together share their published_at,
            # which is how load_high_water finds each partition's last batch again.
            await conn.execute(
                "UPDATE outbox SET published_at = now(), kafka_partition = u.p, kafka_offset = u.o "
                "FROM unnest($1::bigint[], $2::int[], $3::bigint[]) AS u(id, p, o) WHERE outbox.id = u.id",
                [r["id"] for r in pending],
                [partition for partition, _ in sent],
                [offset for _, offset in sent],
            )
            for topic, n in published.items():
                self._metrics.outbox_published.labels(topic).inc(n)
            total += len(pending)
            if regressed:
                await self._republish(regressed)
            elif len(pending) < _BATCH:
                # That was all there was: rows written since wake the relay again, so asking
                # once more would be a round trip for nothing on every round.
                self._metrics.outbox_backlog.set(0)
                return total

    async def _send(self, pending: Sequence[asyncpg.Record]) -> list[tuple[int, int]]:
        """Sends rows as record batches, one or more per partition, in row order.

        Returns:
            The (partition, offset) each row was written at, once the broker acknowledged.
        """
        partitions: dict[str, list[int]] = {}
        batches: dict[tuple[str, int], list[BatchBuilder]] = {}
        placed: list[tuple[tuple[str, int], int, int]] = []
        for r in pending:
            topic, key = r["topic"], r["key"]
            if topic not in partitions:
                partitions[topic] = sorted(await self._producer.partitions_for(topic))
            tp = (topic, self._partition(topic, key, partitions[topic]))
            builders = batches.setdefault(tp, [self._producer.create_batch()])
            appended = _append(builders[-1], r)
            if appended is None:  # full: start the partition's next batch
                builders.append(self._producer.create_batch())
                appended = _append(builders[-1], r)
                if appended is None:
                    raise ValueError(f"outbox row {r['id']} is larger than a record batch")
            placed.append((tp, len(builders) - 1, appended.offset))
        futures = {
            (tp, i): await self._producer.send_batch(b, tp[0], partition=tp[1])
            for tp, builders in batches.items()
            for i, b in enumerate(builders)
        }
        bases = dict(zip(futures, await asyncio.gather(*futures.values()), strict=True))
        return [(tp[1], bases[(tp, i)].offset + relative) for tp, i, relative in placed]

    def _partition(self, topic: str, key: bytes | None, partitions: list[int]) -> int:
        """The partition of `key`, as the producer's default partitioner picks it."""
        if key is None:
            return int(_PARTITIONER(None, partitions, partitions))
        cache_key = (topic, len(partitions), key)
        found = self._partitions.get(cache_key)
        if found is None:
            if len(self._partitions) > 100_000:
                self._partitions.clear()
            # murmur2 in pure Python costs microseconds; keys (tenant/agent) repeat a lot.
            found = self._partitions[cache_key] = int(_PARTITIONER(key, partitions, partitions))
        return found

    async def load_high_water(self) -> None:
        """Learns where the retained rows were published (after a restart or a new lead).

        Rows published together share their `published_at` (one statement), which tells
        the last batch of each partition.
        """
        rows_ = await (self._conn or self._pool).fetch(
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
        self._high = {(r["topic"], r["kafka_partition"]): r["high"] for r in rows_}
        self._last_base = {(r["topic"], r["kafka_partition"]): r["base"] for r in rows_}

    async def check_broker_log(self) -> list[str]:
        """Republishes the retained rows of every topic whose log the broker lost.

        Only the leader looks. A partition counts as lost when it is gone, or when its end
        offset does not reach past the first offset of the last batch this relay published
        there. (Comparing with that batch's first offset rather than its last keeps this
        right on brokers that report the end offset as the last record batch's base offset
        plus one.)

        Returns:
            The topics found lost.
        """
        await self._connect()
        if not self.leader or not self._last_base:
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
        conn = await self._connect()
        if not self.leader:  # the lead moved on; the new leader looks for itself
            return
        log.warning(
            "broker lost published events; publishing them again",
            extra={"topics": ",".join(sorted(topics))},
        )
        await ensure_topics(self._settings)
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


def _append(batch: BatchBuilder, row: asyncpg.Record) -> Any:
    """Appends `row` to `batch`; None when the batch is full."""
    stored = row["headers"]
    headers = (
        [] if stored is None else [(k, str(v).encode()) for k, v in json.loads(stored).items()]
    )
    return batch.append(timestamp=None, key=row["key"], value=row["payload"], headers=headers)
