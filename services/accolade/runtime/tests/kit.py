"""A consumer under test: its tables, a set-based handler, a producer and ways to watch it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import Counter

from accolade.runtime import kafka
from accolade.runtime.consumer import InboxConsumer
from accolade.runtime.inbox import Batch, BatchHandler
from accolade.runtime.metrics import Metrics
from accolade.runtime.relay import OutboxRelay
from accolade.runtime.settings import Settings
from accolade.v1 import envelope_pb2, events_pb2

SCHEMA = "rt"
NAME = "rt.test"
TABLES = """
    CREATE TABLE agents (agent_id text PRIMARY KEY);
    INSERT INTO agents VALUES ('a0'), ('a1'), ('a2'), ('a3'), ('a4'), ('a5'), ('denied'), ('gated');
    -- No unique key on purpose: an event applied twice shows as two rows.
    CREATE TABLE effects (
        tenant_id text NOT NULL, event_id text NOT NULL, agent_id text NOT NULL REFERENCES agents,
        topic text NOT NULL
    );
    -- Agents whose events the handler rejects: a cause an operator can fix.
    CREATE TABLE denied (agent_id text PRIMARY KEY);
    INSERT INTO denied VALUES ('denied');
    -- While closed, the database answers with `errcode`, like a server in trouble.
    CREATE TABLE gate (open boolean NOT NULL, errcode text NOT NULL);
    INSERT INTO gate VALUES (true, 'serialization_failure');
    CREATE FUNCTION pass_gate() RETURNS void LANGUAGE plpgsql AS $$
    DECLARE code text;
    BEGIN
        SELECT errcode INTO code FROM gate WHERE NOT open;
        IF code IS NOT NULL THEN
            RAISE EXCEPTION 'gate closed: %', code USING ERRCODE = code;
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


def recorder(counted: Counter) -> BatchHandler:
    """A handler writing one row per event with one statement, set-based like the services'."""

    async def apply(batch: Batch) -> None:
        denied = {r[0] for r in await batch.conn.fetch("SELECT agent_id FROM denied")}
        keep = []
        for e in batch.events:
            if e.agent_id in denied:
                batch.reject(e, f"agent {e.agent_id} is on the deny list")
            else:
                keep.append(e)
        if any(e.agent_id == "gated" for e in keep):
            await batch.conn.execute("SELECT pass_gate()")
        # One statement for the batch: an agent missing from `agents` fails it whole, and
        # the runtime must find that event by itself.
        await batch.conn.execute(
            "INSERT INTO effects SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])",
            [e.tenant_id for e in keep],
            [e.event_id for e in keep],
            [e.agent_id for e in keep],
            [e.WhichOneof("payload") for e in keep],
        )
        batch.count(counted.labels("effects"), len(keep))

    return apply


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
    other_topic: str
    dead_letter_topic: str
    group: str
    # The offset after the last message the test produced, per (topic, partition).
    produced: dict[tuple[str, int], int] = dataclasses.field(default_factory=dict)

    def inbox(
        self,
        metrics: Metrics,
        cls: type[InboxConsumer] = InboxConsumer,
        *,
        pool: asyncpg.Pool | None = None,
    ) -> InboxConsumer:
        return cls(
            name=NAME,
            consumer=kafka.group_consumer(self.settings, self.group),
            pool=pool or self.pool,
            handler=recorder(metrics.counter("effects", "Effects written.", ("what",))),
            topics={self.topic: "activity", self.other_topic: "feedback"},
            dead_letter_topic=self.dead_letter_topic,
            metrics=metrics,
        )

    async def send(self, event: envelope_pb2.Envelope, topic: str | None = None) -> None:
        sent = await self.producer.send_and_wait(
            topic or self.topic, event.SerializeToString(), key=kafka.envelope_key(event)
        )
        self.produced[(sent.topic, sent.partition)] = sent.offset + 1

    async def send_together(self, messages: list[bytes | envelope_pb2.Envelope]) -> list[int]:
        """Sends `messages` to partition 0 in one record batch, so one fetch returns them all."""
        values = [m if isinstance(m, bytes) else m.SerializeToString() for m in messages]
        futures = [
            await self.producer.send(self.topic, v, key=b"acme/a1", partition=0) for v in values
        ]
        sent = await asyncio.gather(*futures)
        self.produced[(self.topic, 0)] = max(m.offset for m in sent) + 1
        return [int(m.offset) for m in sent]

    async def effects(self) -> list[tuple[str, str]]:
        """(event_id, agent_id) of each effect of tenant `acme`."""
        rows = await self.pool.fetch(
            "SELECT event_id, agent_id FROM effects WHERE tenant_id = 'acme'"
        )
        return [(r["event_id"], r["agent_id"]) for r in rows]

    async def committed(self) -> dict[tuple[str, int], int]:
        """The group's committed offset of each partition the test produced to."""
        probe = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
        )
        await probe.start()  # never subscribes, so it does not join the group
        try:
            return {
                (t, p): (await probe.committed(TopicPartition(t, p))) or 0 for t, p in self.produced
            }
        finally:
            await probe.stop()

    async def all_committed(self) -> bool:
        return await self.committed() == self.produced


@contextlib.asynccontextmanager
async def running(inbox: InboxConsumer) -> AsyncIterator[InboxConsumer]:
    await inbox.start()
    task = asyncio.create_task(inbox.run())
    try:
        yield inbox
    finally:
        await inbox.stop()
        await asyncio.wait_for(task, 10)
        await inbox.close()


@contextlib.asynccontextmanager
async def relaying(kit: Kit) -> AsyncIterator[None]:
    """The schema's outbox relay, which publishes the dead letters."""
    probe = kafka.tail_consumer(kit.settings)
    await probe.start()
    relay = OutboxRelay(kit.settings, SCHEMA, kit.pool, kit.producer, probe, Metrics.create("rt"))
    task = asyncio.create_task(relay.run(check_interval=0.2, idle_poll=0.2))
    try:
        yield
    finally:
        await relay.stop()
        await asyncio.wait_for(task, 10)
        await probe.stop()


def samples(metrics: Metrics, name: str) -> dict[tuple[str, ...], float]:
    """The nonzero values of counter accolade_rt_<name>_total, by label values."""
    return {
        tuple(s.labels.values()): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == f"accolade_rt_{name}_total" and s.value
    }


def total(metrics: Metrics, name: str) -> float:
    return sum(samples(metrics, name).values())
