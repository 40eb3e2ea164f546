"""Fixtures of the runtime's tests: a schema with the runtime's tables, and a private broker."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from accolade.local.embedded import EmbeddedBroker
from accolade.runtime import db, kafka
from accolade.runtime.settings import Settings
from accolade.runtime.tests.kit import NAME, SCHEMA, TABLES, Kit


@pytest.fixture
async def runtime_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on schema "rt", migrated with the runtime's outbox and inbox tables."""
    conn = await asyncpg.connect(database_url)
    try:
        await db.migrate(conn, SCHEMA, db.load_migrations("runtime", "accolade.runtime"))
    finally:
        await conn.close()
    pool = await db.create_pool(database_url, SCHEMA, application="runtime-tests")
    yield pool
    await pool.close()


@pytest.fixture
async def private_broker() -> AsyncIterator[EmbeddedBroker]:
    """A broker of the test's own, which it may stop and restart (coming back empty)."""
    broker = EmbeddedBroker()
    await asyncio.to_thread(broker.start)
    yield broker
    await asyncio.to_thread(broker.stop)


@pytest.fixture
def eventually() -> Callable[..., Awaitable[None]]:
    """Waits until a predicate (plain or async) holds, failing with `what` after `within` s."""

    async def holds(predicate: Callable[[], object]) -> bool:
        result = predicate()
        return bool(await result if inspect.isawaitable(result) else result)

    async def wait(predicate: Callable[[], object], what: str, within: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not await holds(predicate):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"still not true after {within}s: {what}")
            await asyncio.sleep(0.1)

    return wait


@pytest.fixture
def read_topic() -> Callable[[str, str], Awaitable[list[ConsumerRecord]]]:
    """Reads a topic from its start to its current end, outside any consumer group."""

    async def read(bootstrap: str, topic: str) -> list[ConsumerRecord]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer.topics()  # fetches metadata, so the partitions are known
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            records: list[ConsumerRecord] = []
            async with asyncio.timeout(20):
                for tp in partitions:
                    while await consumer.position(tp) < ends[tp]:
                        for batch in (await consumer.getmany(tp, timeout_ms=200)).values():
                            records.extend(batch)
        finally:
            await consumer.stop()
        return records

    return read


@pytest.fixture
async def kit(settings_for, runtime_pool: asyncpg.Pool) -> AsyncIterator[Kit]:
    """A consumer's tables in schema "rt", its topics, and a producer to feed them."""
    settings: Settings = settings_for("leaderboards")
    dead_letter_topic = settings.topics.dead_letter(NAME)
    await kafka.ensure_topics(settings, [dead_letter_topic])
    await runtime_pool.execute(TABLES)
    producer = kafka.producer(settings)
    await producer.start()
    try:
        yield Kit(
            settings,
            runtime_pool,
            producer,
            settings.topics.topic("activity"),
            settings.topics.topic("feedback"),
            dead_letter_topic,
            f"{settings.topics.namespace}.{NAME}",
        )
    finally:
        await producer.stop()
