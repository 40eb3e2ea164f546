"""The inbox consumer on a real broker and PostgreSQL: exactly-once effects, dead letters."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from accolade.runtime import kafka
from accolade.runtime.consumer import InboxConsumer, InvalidEvent
from accolade.runtime.metrics import Metrics
from accolade.runtime.settings import Settings
from accolade.v1 import envelope_pb2, events_pb2

NAME = "rt.test"
TABLES = """
    CREATE TABLE agents (agent_id text PRIMARY KEY);
    INSERT INTO agents VALUES ('a0'), ('a1'), ('a2'), ('a3'), ('a4'), ('a5'), ('poison'), ('gated');
    -- No unique key on purpose: an event applied twice shows as two rows.
    CREATE TABLE effects (
        tenant_id text NOT NULL, event_id text NOT NULL, agent_id text NOT NULL REFERENCES agents
    );
    -- While closed, the database answers like a busy server: try the transaction again.
    CREATE TABLE gate (open boolean NOT NULL);
    INSERT INTO gate VALUES (true);
    CREATE FUNCTION pass_gate() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT (SELECT open FROM gate) THEN
            RAISE EXCEPTION 'gate closed' USING ERRCODE = 'serialization_failure';
        END IF;
    END $$;
"""


def envelope(agent: str, *, tenant: str = "acme") -> envelope_pb2.Envelope:
    e = envelope_pb2.Envelope(
        event_id=str(uuid.uuid4()),
        tenant_id=tenant,
        agent_id=agent,
        interaction_completed=events_pb2.InteractionCompleted(
            interaction_id=f"i-{uuid.uuid4().hex[:8]}", channel=events_pb2.CHANNEL_VOICE
        ),
    )
    e.occurred_at.GetCurrentTime()
    return e


async def record_effect(conn: asyncpg.Connection, e: envelope_pb2.Envelope) -> None:
    if e.agent_id == "gated":
        await conn.execute("SELECT pass_gate()")
    await conn.execute(
        "INSERT INTO effects VALUES ($1, $2, $3)", e.tenant_id, e.event_id, e.agent_id
    )
    if e.agent_id == "poison":
        # After a write, to show that the event's own savepoint undoes it.
        raise InvalidEvent(f"agent {e.agent_id} is on the deny list")


class CrashesBeforeCommit(InboxConsumer):
    """Applies batches but never commits offsets: a process killed right after its transaction."""

    async def _commit(self, batch: object) -> None:
        return None


@dataclasses.dataclass
class Kit:
    settings: Settings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    topic: str
    dead_letter_topic: str
    group: str
    # The offset after the last message the test produced, per partition.
    produced: dict[int, int] = dataclasses.field(default_factory=dict)

    def inbox(self, metrics: Metrics, cls: type[InboxConsumer] = InboxConsumer) -> InboxConsumer:
        return cls(
            name=NAME,
            consumer=kafka.group_consumer(self.settings, self.group),
            producer=self.producer,
            pool=self.pool,
            handler=record_effect,
            dead_letter_topic=self.dead_letter_topic,
            metrics=metrics,
        )

    async def send(self, event: envelope_pb2.Envelope) -> None:
        sent = await self.producer.send_and_wait(
            self.topic, event.SerializeToString(), key=kafka.envelope_key(event)
        )
        self.produced[sent.partition] = sent.offset + 1

    async def send_together(self, messages: list[bytes | envelope_pb2.Envelope]) -> list[int]:
        """Sends `messages` to partition 0 in one record batch, so one fetch returns them all."""
        values = [m if isinstance(m, bytes) else m.SerializeToString() for m in messages]
        futures = [
            await self.producer.send(self.topic, v, key=b"acme/a1", partition=0) for v in values
        ]
        sent = await asyncio.gather(*futures)
        self.produced[0] = max(m.offset for m in sent) + 1
        return [int(m.offset) for m in sent]

    async def effects(self) -> list[tuple[str, str]]:
        """(event_id, agent_id) of each effect of tenant `acme`."""
        rows = await self.pool.fetch(
            "SELECT event_id, agent_id FROM effects WHERE tenant_id = 'acme'"
        )
        return [(r["event_id"], r["agent_id"]) for r in rows]

    async def committed(self) -> dict[int, int]:
        """The group's committed offset of each partition the test produced to."""
        probe = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
        )
        await probe.start()  # never subscribes, so it does not join the group
        try:
            return {
                p: (await probe.committed(TopicPartition(self.topic, p))) or 0
                for p in self.produced
            }
        finally:
            await probe.stop()

    async def all_committed(self) -> bool:
        return await self.committed() == self.produced


@pytest.fixture
async def kit(settings_for, runtime_pool: asyncpg.Pool) -> AsyncIterator[Kit]:
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
            dead_letter_topic,
            f"{settings.topics.namespace}.{NAME}",
        )
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def running(inbox: InboxConsumer, topic: str) -> AsyncIterator[InboxConsumer]:
    await inbox.start([topic])
    task = asyncio.create_task(inbox.run())
    try:
        yield inbox
    finally:
        await inbox.stop()
        await asyncio.wait_for(task, 10)
        await inbox.close()


def samples(metrics: Metrics, name: str) -> dict[tuple[str, ...], float]:
    """The values of counter accolade_rt_<name>_total, by label values."""
    return {
        tuple(s.labels.values()): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == f"accolade_rt_{name}_total"
    }


def total(metrics: Metrics, name: str) -> float:
    return sum(samples(metrics, name).values())


async def test_each_event_applies_once_despite_duplicates_and_a_crash_before_commit(
    kit: Kit, eventually
) -> None:
    events = [envelope(f"a{i}") for i in range(4)]
    shouting = envelope_pb2.Envelope()
    shouting.CopyFrom(events[1])
    shouting.event_id = events[1].event_id.upper()  # the same id, written differently
    # Another tenant may use the same event id for an event of its own.
    other_tenant = envelope_pb2.Envelope()
    other_tenant.CopyFrom(events[0])
    other_tenant.tenant_id = "globex"
    for e in [*events, events[0], shouting, other_tenant]:
        await kit.send(e)
    crashed = Metrics.create("rt")

    async with running(kit.inbox(crashed, CrashesBeforeCommit), kit.topic):
        await eventually(lambda: total(crashed, "events_consumed") == 7, "all seven read")

    assert total(crashed, "events_applied") == 5
    assert total(crashed, "events_duplicate") == 2
    # No offset was committed, so the restarted consumer is given everything again. It joins
    # a group as fresh as the crashed one left its own: a new member of that very group
    # would first wait out the crashed member's session on the embedded broker (~18 s).
    late = envelope("a5")
    await kit.send(late)
    await kit.send(events[2])
    kit.group = f"{kit.group}.restarted"
    restarted = Metrics.create("rt")
    async with running(kit.inbox(restarted), kit.topic):
        await eventually(lambda: total(restarted, "events_consumed") == 9, "all nine read")
        await eventually(kit.all_committed, "offsets committed up to the end of the log")

    assert total(restarted, "events_applied") == 1
    assert total(restarted, "events_duplicate") == 8
    applied = collections.Counter(event_id for event_id, _ in await kit.effects())
    assert applied == {e.event_id: 1 for e in [*events, late]}
    elsewhere = await kit.pool.fetch("SELECT event_id FROM effects WHERE tenant_id = 'globex'")
    assert [r["event_id"] for r in elsewhere] == [events[0].event_id]
    inbox = await kit.pool.fetchval("SELECT count(*) FROM applied_events WHERE consumer = $1", NAME)
    assert inbox == 6


async def test_bad_messages_are_dead_lettered_alone_and_a_failing_batch_commits_nothing(
    kit: Kit, eventually, read_topic
) -> None:
    no_payload, bad_id = envelope("a1"), envelope("a1")
    no_payload.ClearField("interaction_completed")
    bad_id.event_id = "nope"
    good, poison, stranger, gated, after = (
        envelope("a1"),
        envelope("poison"),
        envelope("stranger"),  # not in agents: the handler's INSERT breaks a foreign key
        envelope("gated"),
        envelope("a2"),
    )
    messages = {
        "garbage": b"not a protobuf",
        "no payload": no_payload,
        "bad id": bad_id,
        "good": good,
        "poison": poison,
        "stranger": stranger,
        "gated": gated,
        "after": after,
    }
    await kit.pool.execute("UPDATE gate SET open = false")
    # One partition, so the log holds the messages in this order.
    offsets = dict(zip(messages, await kit.send_together(list(messages.values())), strict=True))
    metrics = Metrics.create("rt")

    async with running(kit.inbox(metrics), kit.topic):
        await eventually(
            lambda: total(metrics, "events_consumed") >= 2 * len(messages), "two failed tries"
        )
        # Nothing of the failing batch is applied, dead-lettered or committed.
        assert await kit.effects() == []
        assert await kit.pool.fetchval("SELECT count(*) FROM applied_events") == 0
        assert await kit.committed() == {0: 0}
        assert await read_topic(kit.settings.kafka_bootstrap, kit.dead_letter_topic) == []

        await kit.pool.execute("UPDATE gate SET open = true")
        await eventually(kit.all_committed, "the batch applied and its offsets committed")

    assert sorted(await kit.effects()) == sorted(
        [(good.event_id, "a1"), (gated.event_id, "gated"), (after.event_id, "a2")]
    )
    letters = await read_topic(kit.settings.kafka_bootstrap, kit.dead_letter_topic)
    headers = {int(dict(r.headers)["source_offset"]): dict(r.headers) for r in letters}
    rejected = ["garbage", "no payload", "bad id", "poison", "stranger"]
    assert len(letters) == len(rejected)  # each once, though its batch was tried several times
    assert sorted(headers) == sorted(offsets[label] for label in rejected)
    reason = {label: headers[offsets[label]]["reason"].decode() for label in rejected}
    assert reason["garbage"].startswith("undecodable: ")
    assert reason["no payload"].startswith("unknown payload: ")
    assert reason["bad id"] == "invalid envelope: event_id 'nope' is not a UUID"
    assert reason["poison"] == "agent poison is on the deny list"
    assert reason["stranger"].startswith("handler failed: ForeignKeyViolationError")
    garbage = next(r for r in letters if r.value == b"not a protobuf")
    assert garbage.key == b"acme/a1"
    assert headers[offsets["garbage"]]["source_topic"] == kit.topic.encode()
    assert headers[offsets["garbage"]]["consumer"] == NAME.encode()
    assert samples(metrics, "dead_lettered_messages") == {
        (kit.topic, "undecodable"): 1,
        (kit.topic, "unknown_payload"): 1,
        (kit.topic, "invalid"): 1,
        (kit.topic, "rejected"): 1,
        (kit.topic, "handler_error"): 1,
    }
