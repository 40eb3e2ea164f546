"""Helpers for the services' integration tests: feed topics, read them back, wait for state."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from accolade import catalog, programs
from accolade.runtime import identity
from accolade.runtime.kafka import envelope_key
from accolade.runtime.settings import Settings
from accolade.v1 import (
    achievements_service_pb2,
    achievements_service_pb2_grpc,
    envelope_pb2,
    events_pb2,
)

T = TypeVar("T")

# The starter program's two simplest badges, each earned by one event: what most tests need.
BASICS = ("first-resolution", "five-stars")

# Long enough for a consumer group to form on the embedded broker and catch up.
WAIT_SECONDS = 20.0


def interaction(
    tenant: str,
    agent: str,
    *,
    resolved: bool = True,
    occurred_at: datetime | None = None,
    handle_seconds: int = 240,
) -> envelope_pb2.Envelope:
    """An interaction_completed envelope with a fresh event id, a few minutes old by default."""
    e = envelope_pb2.Envelope(
        event_id=str(uuid.uuid4()),
        tenant_id=tenant,
        agent_id=agent,
        interaction_completed=events_pb2.InteractionCompleted(
            interaction_id=f"i-{uuid.uuid4().hex[:8]}",
            channel=events_pb2.CHANNEL_VOICE,
            resolved_first_contact=resolved,
        ),
    )
    e.occurred_at.FromDatetime(occurred_at or datetime.now(UTC) - timedelta(minutes=3))
    e.recorded_at.GetCurrentTime()
    e.interaction_completed.handle_time.FromSeconds(handle_seconds)
    return e


def survey(
    tenant: str, agent: str, csat: int, *, occurred_at: datetime | None = None
) -> envelope_pb2.Envelope:
    """A survey_submitted envelope as the feedback service publishes it (event id = survey id)."""
    survey_id = str(uuid.uuid4())
    e = envelope_pb2.Envelope(
        event_id=survey_id,
        tenant_id=tenant,
        agent_id=agent,
        survey_submitted=events_pb2.SurveySubmitted(
            survey_id=survey_id, interaction_id=f"i-{uuid.uuid4().hex[:8]}", csat=csat
        ),
    )
    e.occurred_at.FromDatetime(occurred_at or datetime.now(UTC) - timedelta(minutes=3))
    e.recorded_at.GetCurrentTime()
    return e


def program_request(
    tenant: str, only: Iterable[str] | None = BASICS, *, since: timedelta = timedelta(days=30)
) -> achievements_service_pb2.ApplyProgramRequest:
    """Applies the starter program (or only the badges `only` names) to `tenant`, in force
    from `since` ago, so that events of the recent past count."""
    return programs.starter(tenant, effective_at=datetime.now(UTC) - since, only=only)


async def apply_program(
    channel: object, *tenants: str, only: Iterable[str] | None = BASICS
) -> None:
    """Applies the starter program's badges `only` (all with None) to each of `tenants`
    through the achievements service at `channel`."""
    stub = achievements_service_pb2_grpc.AchievementsServiceStub(channel)  # type: ignore[no-untyped-call]
    for tenant in tenants:
        await stub.ApplyProgram(program_request(tenant, only))


def _tenant(tenant_id: str, version: int, lateness_seconds: int) -> envelope_pb2.Envelope:
    """A test tenant's settings (UTC, weeks from Monday) as the gateway announces them."""
    return identity.message(
        tenant_id,
        str(uuid.uuid4()),
        tenant_changed=events_pb2.TenantChanged(
            display_name=tenant_id,
            time_zone="UTC",
            week_start=1,
            lateness_seconds=lateness_seconds,
            version=version,
        ),
    )


async def change_tenant(
    settings: Settings, tenant_id: str, *, version: int, lateness_seconds: int
) -> None:
    """Publishes a new version of a test tenant's settings on the identity topic."""
    await produce(
        settings.kafka_bootstrap,
        settings.topics.topic("identity"),
        [_tenant(tenant_id, version, lateness_seconds)],
        key=identity.message_key,
    )


async def grant(
    settings: Settings,
    tenant_id: str,
    role: int = identity.ADMIN,
    *,
    agent_id: str = "",
    team_id: str = "",
    revoked: bool = False,
    key: identity.NewKey | None = None,
    lateness_seconds: int = 72 * 3600,
) -> str:
    """Publishes a tenant and a key of it on the identity topic, as the gateway would.

    For tests of one service, which run without the gateway. Returns the key's token.
    """
    made = key or identity.new_key()
    tenant = _tenant(tenant_id, 1, lateness_seconds)
    changed = events_pb2.ApiKeyChanged(
        key_id=made.key_id,
        role=role,  # type: ignore[arg-type]
        agent_id=agent_id,
        team_id=team_id,
        secret_sha256=made.secret_sha256,
    )
    if revoked:
        changed.revoked_at.GetCurrentTime()
    k = identity.message(tenant_id, str(uuid.uuid4()), api_key_changed=changed)
    await produce(
        settings.kafka_bootstrap,
        settings.topics.topic("identity"),
        [tenant, k],
        key=identity.message_key,
    )
    return made.token


def tenant_of(request: object) -> str:
    """The tenant a request names (the first envelope's, for PublishEvents); '' if none."""
    tenant = getattr(request, "tenant_id", "")
    if not tenant and (events := getattr(request, "events", None)):
        tenant = events[0].tenant_id
    return str(tenant)


def keys_by_tenant(keys: dict[str, str], default: str) -> Callable[[object], str]:
    """Picks the key of the tenant each request names, else the `default` tenant's.

    Test channels use it so that a test naming a tenant needs no key of its own; the
    isolation tests choose every key themselves.
    """
    return lambda request: keys.get(tenant_of(request)) or keys.get(default, "")


async def produce(
    bootstrap: str,
    topic: str,
    envelopes: Iterable[envelope_pb2.Envelope],
    *,
    key: Callable[[envelope_pb2.Envelope], bytes] = envelope_key,
) -> None:
    """Publishes `envelopes` to `topic` in order, keyed tenant/agent as every service does
    (or by `key`)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for e in envelopes:
            await producer.send_and_wait(topic, e.SerializeToString(), key=key(e))
    finally:
        await producer.stop()


async def _log_ends(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """The end offset of each of `tps`, which `consumer` is assigned, from a fetch response.

    Not `end_offsets`: tansu 0.6 answers ListOffsets(latest) with the base offset of the
    last record batch plus one, short of the end whenever that batch holds several records.
    """
    await consumer.seek_to_beginning(*tps)
    async with asyncio.timeout(WAIT_SECONDS):
        while any(consumer.highwater(tp) is None for tp in tps):
            await consumer.getmany(*tps, timeout_ms=200)
    return {tp: consumer.highwater(tp) for tp in tps}


async def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes, envelope_pb2.Envelope]]:
    """Every (key, envelope) in `topic` up to its end when called, in offset order per partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        await consumer.topics()  # loads the metadata partitions_for_topic reads
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        ends = await _log_ends(consumer, tps)
        await consumer.seek_to_beginning(*tps)
        out: list[tuple[int, int, bytes, envelope_pb2.Envelope]] = []
        async with asyncio.timeout(WAIT_SECONDS):
            for tp in tps:
                while await consumer.position(tp) < ends[tp]:
                    for r in (await consumer.getmany(tp, timeout_ms=200)).get(tp, []):
                        if r.offset < ends[tp]:
                            envelope = envelope_pb2.Envelope.FromString(r.value)
                            out.append((r.partition, r.offset, r.key, envelope))
    finally:
        await consumer.stop()
    return [(key, e) for _, _, key, e in sorted(out, key=lambda x: (x[0], x[1]))]


def by_event_id(
    published: list[tuple[bytes, envelope_pb2.Envelope]],
) -> dict[str, envelope_pb2.Envelope]:
    """The published events by id, after checking each is keyed tenant/agent and appears once.

    Raises:
        AssertionError: an event is keyed otherwise, or was published more than once.
    """
    seen: dict[str, envelope_pb2.Envelope] = {}
    for key, e in published:
        if key != envelope_key(e):
            raise AssertionError(f"event {e.event_id} keyed {key!r}")
        if e.event_id in seen:
            raise AssertionError(f"event {e.event_id} published more than once")
        seen[e.event_id] = e
    return seen


async def eventually(
    probe: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    *,
    within: float = WAIT_SECONDS,
    what: str = "the expected state",
) -> T:
    """Calls `probe` until `ok` holds for its answer, and returns that answer.

    Raises:
        AssertionError: `ok` did not hold within `within` seconds; shows the last answer.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await probe()
        if ok(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached in {within:.0f} s; last: {value!r}")
        await asyncio.sleep(0.1)


async def stays(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], *, seconds: float, what: str
) -> T:
    """Calls `probe` for `seconds` and checks that `ok` holds for every answer.

    For what must not happen, such as a second copy of an event: the time is how long
    something would take to go wrong, so keep it short and say why in the caller.

    Raises:
        AssertionError: `ok` failed for an answer, which the message shows.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = await probe()
        if not ok(value):
            raise AssertionError(f"{what} no longer holds: {value!r}")
        if loop.time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def caught_up(settings: Settings) -> None:
    """Waits until every consumer group of `settings.service` has committed all input so far.

    A group commits its offsets only after the transaction that applied the messages,
    so once this returns every message now in its topics (duplicates included) has had
    its full effect.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await admin.start()
    try:
        await consumer.start()
        await consumer.topics()  # loads the metadata partitions_for_topic reads
        specs = catalog.load(settings.service).consumers
        # Every group's partitions first: assigning some narrows the metadata the
        # consumer keeps to those topics, and the next group's would then look empty.
        partitions = {
            spec.name: [
                TopicPartition(name, p)
                for name in map(settings.topics.topic, spec.topics)
                for p in sorted(consumer.partitions_for_topic(name) or ())
            ]
            for spec in specs
        }
        for spec in specs:
            tps = partitions[spec.name]
            if not tps:
                continue  # a topic nothing was ever sent to: nothing to catch up on
            consumer.assign(tps)
            ends = await _log_ends(consumer, tps)
            group = f"{settings.topics.namespace}.{settings.service}.{spec.name}"
            await _committed_up_to(admin, group, ends)
    finally:
        await consumer.stop()
        await admin.close()


async def _committed_up_to(
    admin: AIOKafkaAdminClient, group: str, ends: dict[TopicPartition, int]
) -> None:
    async def committed() -> dict[TopicPartition, int]:
        found = await admin.list_consumer_group_offsets(group, partitions=list(ends))
        return {tp: found[tp].offset if tp in found else -1 for tp in ends}

    def reached(offsets: dict[TopicPartition, int]) -> bool:
        return all(offsets[tp] >= end for tp, end in ends.items() if end)

    await eventually(committed, reached, what=f"group {group} committing up to {ends}")


async def windows_due(settings: Settings, badge_id: str) -> None:
    """Makes every window of achievements' `badge_id` due to be decided now, as if its
    end and the lateness had passed."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            "UPDATE achievements.badge_windows SET closes_at = now() WHERE badge_id = $1",
            badge_id,
        )
    finally:
        await conn.close()


async def outbox_published(settings: Settings) -> None:
    """Waits until the relay of `settings.service` has published every outbox row."""
    conn = await asyncpg.connect(settings.database_url)

    async def backlog() -> int:
        count: int = await conn.fetchval(
            f'SELECT count(*) FROM "{settings.service}".outbox WHERE published_at IS NULL'  # noqa: S608 - a service name, not input
        )
        return count

    try:
        await eventually(backlog, lambda n: n == 0, what="an empty outbox backlog")
    finally:
        await conn.close()


async def metric(url: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` at the /metrics `url` whose labels include `labels`."""

    def get() -> str:
        with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 - a service's own URL
            return str(reply.read().decode())

    text = await asyncio.to_thread(get)
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


async def fail_over(admin: asyncpg.Connection, database: str, *, read_only: bool) -> None:
    """Acts out a failover: `database`'s new sessions are read-only (or no longer are),
    and its open ones are cut, as when a primary steps down.
    """
    setting = (
        "SET default_transaction_read_only = on"
        if read_only
        else "RESET default_transaction_read_only"
    )
    await admin.execute(f'ALTER DATABASE "{database}" {setting}')
    await admin.fetch(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )


@contextlib.asynccontextmanager
async def holding(
    database_url: str, table: str, mode: str = "EXCLUSIVE"
) -> AsyncIterator[asyncpg.Connection]:
    """Holds a lock on `table` (schema-qualified) while the context is open, as a long
    transaction of someone else's would; yields the holding connection.
    """
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(f"LOCK TABLE {table} IN {mode} MODE")
            yield conn
    finally:
        await conn.close()
