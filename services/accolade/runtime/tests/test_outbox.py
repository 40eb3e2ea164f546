"""The outbox relay on a real broker and PostgreSQL, including a broker that loses its log."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence

import asyncpg

from accolade.local.embedded import EmbeddedBroker
from accolade.runtime import db, kafka, outbox
from accolade.runtime.metrics import Metrics
from accolade.runtime.relay import OutboxRelay
from accolade.runtime.retention import OUTBOX
from accolade.runtime.settings import Settings
from accolade.v1 import envelope_pb2, events_pb2

SCHEMA = "rt"


def award(tenant: str, agent: str) -> envelope_pb2.Envelope:
    e = envelope_pb2.Envelope(
        event_id=str(uuid.uuid4()),
        tenant_id=tenant,
        agent_id=agent,
        badge_awarded=events_pb2.BadgeAwarded(badge_id="first-resolution"),
    )
    e.occurred_at.GetCurrentTime()
    return e


async def add(pool: asyncpg.Pool, topic: str, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, topic, envelopes)


@contextlib.asynccontextmanager
async def opened_relay(
    settings: Settings, pool: asyncpg.Pool, metrics: Metrics
) -> AsyncIterator[OutboxRelay]:
    async with contextlib.AsyncExitStack() as stack:
        producer = kafka.producer(settings)
        await producer.start()
        stack.push_async_callback(producer.stop)
        probe = kafka.tail_consumer(settings)
        await probe.start()
        stack.push_async_callback(probe.stop)
        relay = OutboxRelay(settings, SCHEMA, pool, producer, probe, metrics)
        stack.push_async_callback(relay.close)
        yield relay


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay, **timing: float) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.run(**timing))
    try:
        yield
    finally:
        await relay.stop()
        await asyncio.wait_for(task, 10)


def metric(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(f"accolade_rt_{name}", labels)
    return 0.0 if value is None else value


async def event_ids(read_topic, bootstrap: str, topic: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        envelope_pb2.Envelope.FromString(r.value).event_id
        for r in await read_topic(bootstrap, topic)
    ]


async def all_published(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


async def test_rows_are_published_in_id_order_keyed_by_tenant_and_agent(
    settings_for, runtime_pool: asyncpg.Pool, read_topic
) -> None:
    settings: Settings = settings_for("achievements")
    await kafka.ensure_topics(settings)
    awards, boards = settings.topics.topic("awards"), settings.topics.topic("leaderboards")
    first = [award("acme", "a1"), award("acme", "a2"), award("globex", "a1")]
    second = [award("acme", "a1"), award("acme", "a3"), award("acme", "a2")]
    third = [award("globex", "a1"), award("acme", "a1")]
    await add(runtime_pool, awards, first)
    await add(runtime_pool, boards, third[:1])
    await add(runtime_pool, awards, second)
    await add(runtime_pool, boards, third[1:])
    metrics = Metrics.create("rt")

    async with opened_relay(settings, runtime_pool, metrics) as relay:
        assert await relay.publish_pending() == 8
        assert await relay.publish_pending() == 0

    rows = await runtime_pool.fetch(
        "SELECT id, topic, key, event_id::text, kafka_partition, kafka_offset FROM outbox "
        "WHERE published_at IS NOT NULL ORDER BY id"
    )
    assert [r["event_id"] for r in rows] == [
        e.event_id for e in [*first, third[0], *second, third[1]]
    ]
    log = {}
    for topic in (awards, boards):
        for record in await read_topic(settings.kafka_bootstrap, topic):
            e = envelope_pb2.Envelope.FromString(record.value)
            log[e.event_id] = (topic, record.partition, record.offset, record.key)
            assert record.key == f"{e.tenant_id}/{e.agent_id}".encode()
    # The relay recorded where each row went, and each partition holds its rows in id order.
    assert {
        r["event_id"]: (r["topic"], r["kafka_partition"], r["kafka_offset"], r["key"]) for r in rows
    } == log
    for topic, partition in {(r["topic"], r["kafka_partition"]) for r in rows}:
        offsets = [
            r["kafka_offset"]
            for r in rows
            if (r["topic"], r["kafka_partition"]) == (topic, partition)
        ]
        assert offsets == sorted(offsets)
    assert metric(metrics, "outbox_backlog_messages") == 0
    assert metric(metrics, "outbox_published_messages_total", topic=awards) == 6
    assert metric(metrics, "outbox_published_messages_total", topic=boards) == 2


async def test_a_committed_transaction_wakes_the_relay(
    settings_for, runtime_pool: asyncpg.Pool, eventually
) -> None:
    settings: Settings = settings_for("achievements")
    await kafka.ensure_topics(settings)
    topic = settings.topics.topic("awards")
    await add(runtime_pool, topic, [award("acme", "a1")])
    metrics = Metrics.create("rt")

    # Polling only once a minute: anything faster is the commit's notification.
    async with (
        opened_relay(settings, runtime_pool, metrics) as relay,
        running(relay, check_interval=60, idle_poll=60),
    ):
        await eventually(lambda: all_published(runtime_pool), "the first row published")
        await add(runtime_pool, topic, [award("acme", "a2")])
        await eventually(lambda: all_published(runtime_pool), "the second published", within=5)


async def test_purge_deletes_only_published_rows_past_retention(
    settings_for, runtime_pool: asyncpg.Pool
) -> None:
    settings: Settings = settings_for("achievements")
    await kafka.ensure_topics(settings)
    topic = settings.topics.topic("awards")
    await add(runtime_pool, topic, [award("acme", "a1"), award("acme", "a2")])
    metrics = Metrics.create("rt")
    async with opened_relay(settings, runtime_pool, metrics) as relay:
        await relay.publish_pending()
    waiting = award("acme", "a3")
    await add(runtime_pool, topic, [waiting])
    expired = dataclasses.replace(settings, outbox_retention_seconds=0.0)

    async with runtime_pool.acquire() as conn:
        kept = await OUTBOX.purge(conn, settings)
        purged = await OUTBOX.purge(conn, expired)
    assert kept == 0
    assert purged == 2

    left = await runtime_pool.fetch("SELECT event_id::text, published_at FROM outbox")
    assert [(r["event_id"], r["published_at"]) for r in left] == [(waiting.event_id, None)]


async def test_identity_rows_outlast_the_outbox_retention(
    settings_for, runtime_pool: asyncpg.Pool
) -> None:
    # Services keep keys only in memory: the identity topic must always be refillable.
    settings: Settings = settings_for("gateway")
    await kafka.ensure_topics(settings)
    identity_topic = settings.topics.topic("identity")
    await add(runtime_pool, identity_topic, [award("acme", "k1")])
    await add(runtime_pool, settings.topics.topic("awards"), [award("acme", "a1")])
    async with opened_relay(settings, runtime_pool, Metrics.create("rt")) as relay:
        await relay.publish_pending()
    expired = dataclasses.replace(settings, outbox_retention_seconds=0.0)

    async with runtime_pool.acquire() as conn:
        purged = await OUTBOX.purge(conn, expired)

    assert purged == 1
    assert [r["topic"] for r in await runtime_pool.fetch("SELECT topic FROM outbox")] == [
        identity_topic
    ]


async def test_after_the_broker_loses_its_log_the_idle_relay_publishes_everything_again(
    private_broker: EmbeddedBroker, settings_for, runtime_pool: asyncpg.Pool, eventually, read_topic
) -> None:
    settings: Settings = settings_for("achievements", kafka_bootstrap=private_broker.bootstrap)
    await kafka.ensure_topics(settings)
    topic = settings.topics.topic("awards")
    sent = [award("acme", f"a{i}") for i in range(6)]
    await add(runtime_pool, topic, sent[:3])
    await add(runtime_pool, topic, sent[3:])
    metrics = Metrics.create("rt")
    republished = lambda: metric(metrics, "outbox_republished_messages_total", topic=topic)  # noqa: E731

    async with (
        opened_relay(settings, runtime_pool, metrics) as relay,
        running(relay, check_interval=0.2, idle_poll=0.2),
    ):
        await eventually(lambda: all_published(runtime_pool), "the rows published")
        await asyncio.sleep(1)  # several idle checks of an intact log
        assert republished() == 0

        await asyncio.to_thread(private_broker.restart)
        await eventually(lambda: republished() == 6, "every retained row republished")
        await eventually(lambda: all_published(runtime_pool), "the rows published again")
        await asyncio.sleep(1)  # and the restored log is not taken for lost again
        assert republished() == 6

    ids = await event_ids(read_topic, settings.kafka_bootstrap, topic)
    assert sorted(ids) == sorted(e.event_id for e in sent)


async def test_an_offset_below_one_already_seen_republishes_everything_retained(
    private_broker: EmbeddedBroker, settings_for, runtime_pool: asyncpg.Pool, read_topic
) -> None:
    settings: Settings = settings_for("achievements", kafka_bootstrap=private_broker.bootstrap)
    await kafka.ensure_topics(settings)
    topic = settings.topics.topic("awards")
    agents = [f"a{i}" for i in range(4)]
    before = [award("acme", a) for a in agents]
    # The same agents, so each new row lands on a partition that held an old one.
    after = [award("acme", a) for a in agents]
    metrics = Metrics.create("rt")

    async with opened_relay(settings, runtime_pool, metrics) as relay:
        await add(runtime_pool, topic, before)
        assert await relay.publish_pending() == 4
        await asyncio.to_thread(private_broker.restart)
        # Another service starting up creates the shared topics again, so the emptied
        # topic exists before the relay looks at it: only the offsets tell the loss.
        await kafka.ensure_topics(settings)
        await add(runtime_pool, topic, after)

        published = await relay.publish_pending()

        assert await relay.check_broker_log() == []
    assert published == 4 + 8  # the new rows, then everything retained again
    assert metric(metrics, "outbox_republished_messages_total", topic=topic) == 8
    assert await all_published(runtime_pool)
    ids = await event_ids(read_topic, settings.kafka_bootstrap, topic)
    assert set(ids) == {e.event_id for e in before + after}


async def test_the_relay_outlives_losing_its_database(
    settings_for, runtime_pool: asyncpg.Pool, infra, database_url: str, eventually
) -> None:
    settings: Settings = settings_for("achievements")
    await kafka.ensure_topics(settings)
    topic = settings.topics.topic("awards")
    await add(runtime_pool, topic, [award("acme", "a1")])
    database = database_url.partition("?")[0].rsplit("/", 1)[-1]

    async with (
        opened_relay(settings, runtime_pool, Metrics.create("rt")) as relay,
        running(relay, check_interval=0.2, idle_poll=0.2),
    ):
        await eventually(lambda: all_published(runtime_pool), "the first row published")
        # The database goes away under the relay (and its listening connection), then
        # comes back restored; the relay must carry on publishing.
        admin = await asyncpg.connect(infra.database_url)
        try:
            await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            await asyncio.sleep(1)
            await admin.execute(f'CREATE DATABASE "{database}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(database_url)
        try:
            await db.migrate(conn, SCHEMA, db.load_migrations("runtime", "accolade.runtime"))
        finally:
            await conn.close()
        await add(runtime_pool, topic, [award("acme", "a2")])
        await eventually(lambda: all_published(runtime_pool), "the row after the outage published")


async def test_only_the_leader_publishes_and_republishes_and_another_takes_over(
    private_broker: EmbeddedBroker, settings_for, runtime_pool: asyncpg.Pool, eventually, read_topic
) -> None:
    settings: Settings = settings_for("achievements", kafka_bootstrap=private_broker.bootstrap)
    await kafka.ensure_topics(settings)
    topic = settings.topics.topic("awards")
    sent = [award("acme", f"a{i}") for i in range(8)]
    first, second = Metrics.create("rt"), Metrics.create("rt")

    def published(m: Metrics) -> float:
        return metric(m, "outbox_published_messages_total", topic=topic)

    def republished(m: Metrics) -> float:
        return metric(m, "outbox_republished_messages_total", topic=topic)

    async with (
        opened_relay(settings, runtime_pool, first) as leader,
        opened_relay(settings, runtime_pool, second) as follower,
    ):
        await leader.publish_pending()  # takes the lead before the other starts
        async with running(follower, check_interval=0.2, idle_poll=0.2):
            async with running(leader, check_interval=0.2, idle_poll=0.2):
                await add(runtime_pool, topic, sent[:4])
                await add(runtime_pool, topic, sent[4:])
                await eventually(lambda: all_published(runtime_pool), "the rows published")
                await asyncio.to_thread(private_broker.restart)
                await eventually(lambda: republished(first) == 8, "the leader republished")
                await eventually(lambda: all_published(runtime_pool), "the rows published again")
                assert (leader.leader, follower.leader) == (True, False)
                assert (published(first), published(second)) == (16, 0)
                assert republished(second) == 0
                ids = await event_ids(read_topic, settings.kafka_bootstrap, topic)
                assert sorted(ids) == sorted(e.event_id for e in sent)

            # The leader stopped; the other takes the lead and publishes what comes next.
            late = award("acme", "a9")
            await add(runtime_pool, topic, [late])
            await eventually(lambda: all_published(runtime_pool), "the late row published")
            assert follower.leader
            assert published(second) == 1


async def test_no_transaction_stays_open_while_the_broker_does_not_answer(
    private_broker: EmbeddedBroker,
    settings_for,
    runtime_pool: asyncpg.Pool,
    database_url: str,
    eventually,
    read_topic,
) -> None:
    settings: Settings = settings_for("achievements", kafka_bootstrap=private_broker.bootstrap)
    await kafka.ensure_topics(settings)
    topic = settings.topics.topic("awards")
    metrics = Metrics.create("rt")
    observer = await asyncpg.connect(database_url, server_settings={"application_name": "observer"})

    async def open_transactions() -> list[str]:
        rows = await observer.fetch(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'runtime-tests' AND state LIKE 'idle in transaction%'"
        )
        return [r["query"] for r in rows]

    async def waiting_on_broker() -> bool:
        sends = metrics.registry.get_sample_value(
            "accolade_rt_outbox_published_messages_total", {"topic": topic}
        )
        return not sends and not await all_published(runtime_pool)

    try:
        async with opened_relay(settings, runtime_pool, metrics) as relay:
            await relay.publish_pending()  # connected, and leading
            await asyncio.to_thread(private_broker.stop)
            async with running(relay, check_interval=0.2, idle_poll=0.2):
                waiting = [award("acme", "a1"), award("acme", "a2")]
                await add(runtime_pool, topic, waiting)
                # The relay has read the rows and waits for the broker's acknowledgements for
                # as long as the producer's request timeout. No transaction is open meanwhile.
                deadline = asyncio.get_running_loop().time() + 3
                while asyncio.get_running_loop().time() < deadline:
                    assert await waiting_on_broker()
                    assert await open_transactions() == []
                    await asyncio.sleep(0.1)
                await asyncio.to_thread(private_broker.start)
                await kafka.ensure_topics(settings)
                await eventually(lambda: all_published(runtime_pool), "published once it is back")
    finally:
        await observer.close()
    ids = await event_ids(read_topic, settings.kafka_bootstrap, topic)
    assert sorted(set(ids)) == sorted(e.event_id for e in waiting)
