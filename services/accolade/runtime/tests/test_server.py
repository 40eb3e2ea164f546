"""A real service as the runtime serves it: errors with details, metrics, health, reflection."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid

import asyncpg
import grpc
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import RecordMetadata
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from accolade import catalog
from accolade.local.embedded import EmbeddedBroker
from accolade.runtime import admin as accolade_admin
from accolade.runtime import kafka
from accolade.runtime.interceptors import bad_request_violations
from accolade.runtime.settings import Settings
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import achievements_service_pb2_grpc as pb_grpc
from accolade.v1 import envelope_pb2, events_pb2

# Achievements stands for any service here: the runtime serves them all the same way.
NAME, GRPC_SERVICE = "achievements", "accolade.v1.AchievementsService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Reads /metrics as Prometheus would: {(sample name, labels): value}."""

    def get() -> str:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own http URL
            return str(response.read().decode())

    text = await asyncio.to_thread(get)
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def health(channel: grpc.aio.Channel) -> tuple[int, int]:
    """The status of "" and of the service's name."""
    stub = health_pb2_grpc.HealthStub(channel)
    overall = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    named = await stub.Check(health_pb2.HealthCheckRequest(service=GRPC_SERVICE), timeout=5)
    return overall.status, named.status


async def test_bad_requests_name_their_fields_and_every_rpc_is_counted(start_service) -> None:
    service = await start_service(NAME)
    stub = pb_grpc.AchievementsServiceStub(service.channel)

    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.ListAgentBadges(
            # (an empty tenant_id is the key's: only the agent is at fault)
            pb.ListAgentBadgesRequest(tenant_id="", agent_id="has space"),
            metadata=(("x-request-id", "req-42"),),
        )
    await stub.ListAgentBadges(pb.ListAgentBadgesRequest(tenant_id="acme", agent_id="a1"))
    await stub.ListAgentBadges(pb.ListAgentBadgesRequest(tenant_id="acme", agent_id="a2"))

    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in bad_request_violations(bad.value)] == ["agent_id"]
    assert ("x-request-id", "req-42") in tuple(bad.value.trailing_metadata())
    metrics = await scrape(service.metrics_url)
    requests = {
        tuple(sorted(labels)): value
        for (name, labels), value in metrics.items()
        if name == f"accolade_{NAME}_rpc_requests_total"
    }
    # Health checks (the fixture waited for SERVING) are not the service's RPCs.
    assert requests == {
        (("code", "INVALID_ARGUMENT"), ("method", "ListAgentBadges")): 1.0,
        (("code", "OK"), ("method", "ListAgentBadges")): 2.0,
    }
    durations = (
        f"accolade_{NAME}_rpc_duration_seconds_count",
        frozenset({("method", "ListAgentBadges")}),
    )
    assert metrics[durations] == 3.0


async def test_health_names_the_service_and_follows_the_database_and_the_broker(
    private_broker: EmbeddedBroker, start_service, infra, eventually
) -> None:
    service = await start_service(NAME, kafka_bootstrap=private_broker.bootstrap)
    assert await health(service.channel) == (SERVING, SERVING)
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await health_pb2_grpc.HealthStub(service.channel).Check(
            health_pb2.HealthCheckRequest(service="accolade.v1.GatewayService")
        )
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    reflection = reflection_pb2_grpc.ServerReflectionStub(service.channel)
    answers = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    listed = {s.name async for a in answers for s in a.list_services_response.service}
    assert {GRPC_SERVICE, "grpc.health.v1.Health"} <= listed
    up = {
        d: (f"accolade_{NAME}_dependency_up", frozenset({("dependency", d)}))
        for d in ("kafka", "postgres")
    }

    serving = (f"accolade_{NAME}_serving", frozenset())

    async def dependencies_up() -> tuple[float, float, float]:
        """The kafka and postgres dependency gauges, and the serving gauge."""
        metrics = await scrape(service.metrics_url)
        return metrics[up["kafka"]], metrics[up["postgres"]], metrics[serving]

    database = service.settings.database_url.partition("?")[0].rsplit("/", 1)[-1]
    admin = await asyncpg.connect(infra.database_url)
    try:
        await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        await eventually(lambda: health_is(service, NOT_SERVING), "NOT_SERVING without a database")
        assert await dependencies_up() == (1.0, 0.0, 0.0)
        # Liveness is not readiness: a dependency's outage must not get the pod restarted.
        assert await liveness(service.channel) == SERVING
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    await eventually(lambda: health_is(service, SERVING), "SERVING with the database back")
    # Restored from backup, as it were, so the service has its tables again.
    await accolade_admin.migrate(service.settings.database_url, [catalog.load(NAME)])

    await asyncio.to_thread(private_broker.stop)
    await eventually(lambda: health_is(service, NOT_SERVING), "NOT_SERVING without a broker")
    assert await dependencies_up() == (0.0, 1.0, 0.0)
    await asyncio.to_thread(private_broker.start)
    await eventually(lambda: health_is(service, SERVING), "SERVING with the broker back")
    assert await dependencies_up() == (1.0, 1.0, 1.0)
    # The broker came back empty; recreate the topics, as `accolade up` does on start.
    await accolade_admin.create_topics(service.settings, [catalog.load(n) for n in catalog.NAMES])
    # And consumes again: the event is applied and its offset committed, which takes the
    # consumer's finding its group anew (and leaves nothing half-joined for shutdown).
    sent = await send_activity(service.settings)
    consumer = catalog.load(NAME).consumers[0].name
    group = f"{service.settings.topics.namespace}.{NAME}.{consumer}"
    await eventually(
        lambda: committed_beyond(service.settings, group, sent),
        "the event consumed and committed",
        within=30,
    )


async def liveness(channel: grpc.aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service="liveness"), timeout=5)
    return int(reply.status)


async def health_is(service, status: int) -> bool:  # type: ignore[no-untyped-def]
    return await health(service.channel) == (status, status)


async def send_activity(settings: Settings) -> RecordMetadata:
    event = envelope_pb2.Envelope(
        event_id=str(uuid.uuid4()),
        tenant_id="acme",
        agent_id="a1",
        interaction_completed=events_pb2.InteractionCompleted(
            interaction_id="i-1", channel=events_pb2.CHANNEL_VOICE
        ),
    )
    event.occurred_at.GetCurrentTime()
    producer = kafka.producer(settings)
    await producer.start()
    try:
        return await producer.send_and_wait(
            settings.topics.topic("activity"),
            event.SerializeToString(),
            key=kafka.envelope_key(event),
        )
    finally:
        await producer.stop()


async def committed_beyond(settings: Settings, group: str, sent: RecordMetadata) -> bool:
    """Whether `group` has committed the offset after `sent`."""
    probe = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await probe.start()  # never subscribes, so it does not join the group
    try:
        return bool((await probe.committed(sent.topic_partition) or 0) > sent.offset)
    finally:
        await probe.stop()
