"""Agents' notification streams: recognition arrives live, a stream resumes where it left
off, and a failed hub returns."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from accolade.gateway._watch import Hub
from accolade.testing import eventually, metric, produce
from accolade.v1 import envelope_pb2, events_pb2
from accolade.v1 import gateway_service_pb2 as pb
from accolade.v1 import gateway_service_pb2_grpc as pb_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def award(agent: str) -> envelope_pb2.Envelope:
    e = envelope_pb2.Envelope(
        event_id=str(uuid.uuid4()),
        tenant_id="acme",
        agent_id=agent,
        badge_awarded=events_pb2.BadgeAwarded(badge_id="first-resolution", name="First Resolution"),
    )
    e.occurred_at.GetCurrentTime()
    return e


async def delivered(
    channel: grpc.aio.Channel, bootstrap: str, topic: str, sent: envelope_pb2.Envelope
) -> str:
    """Opens a stream for `sent`'s agent, then sends `sent` until the stream delivers it."""
    stream = pb_grpc.GatewayServiceStub(channel).WatchAgent(
        pb.WatchAgentRequest(tenant_id=sent.tenant_id, agent_id=sent.agent_id)
    )
    received = asyncio.ensure_future(stream.read())
    try:
        # The stream is registered with the hub once the server runs the call; sending
        # until it arrives covers that start without a guess of how long it takes.
        async with asyncio.timeout(20):
            while True:
                await produce(bootstrap, topic, [sent])
                done, _ = await asyncio.wait({received}, timeout=0.5)
                if done:
                    message = received.result()
                    return str(message.event.event_id)
    finally:
        received.cancel()
        stream.cancel()


async def test_a_failed_hub_is_started_again_and_the_gateway_is_not_serving_meanwhile(
    start_service, infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    global _bootstrap, _topic
    gateway = await start_service("gateway")
    awards = gateway.settings.topics.topic("awards")
    health = health_pb2_grpc.HealthStub(gateway.channel)

    async def status() -> int:
        reply = await health.Check(
            health_pb2.HealthCheckRequest(service="accolade.v1.GatewayService")
        )
        return int(reply.status)

    first = award("a1")
    assert await delivered(gateway.channel, infra.bootstrap, awards, first) == first.event_id

    # A bug that an event triggers: the hub's task fails on the next one.
    publish = Hub.publish
    failed = asyncio.Event()

    def fails_once(
        self: Hub, tenant: str, agent: str, sequence: int, envelope: envelope_pb2.Envelope
    ) -> None:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("a bug in the hub")
        publish(self, tenant, agent, sequence, envelope)

    monkeypatch.setattr(Hub, "publish", fails_once)
    # A stream of a1 is open, so the hub hands a1's next notification on, and fails.
    watching = pb_grpc.GatewayServiceStub(gateway.channel).WatchAgent(
        pb.WatchAgentRequest(tenant_id="acme", agent_id="a1", after_sequence=1)
    )
    await produce(infra.bootstrap, awards, [award("a1")])
    await eventually(status, lambda s: s == NOT_SERVING, what="NOT_SERVING while the hub is down")
    await eventually(status, lambda s: s == SERVING, what="SERVING once the hub is back")
    # The stream went on meanwhile, and gets the notification once the hub is back.
    assert (await watching.read()).sequence == 2
    watching.cancel()

    again = award("a2")
    assert await delivered(gateway.channel, infra.bootstrap, awards, again) == again.event_id
    restarts = await metric(
        gateway.metrics_url, "accolade_gateway_task_restarts_total", task="watch-hub"
    )
    assert restarts == 1


async def test_a_level_reached_reaches_the_agents_stream_like_a_badge(start_service, infra) -> None:
    gateway = await start_service("gateway")
    level = envelope_pb2.Envelope(
        event_id=str(uuid.uuid4()),
        tenant_id="acme",
        agent_id="a1",
        level_reached=events_pb2.LevelReached(level=2, name="Associate", xp=120, table_version=1),
    )
    level.occurred_at.GetCurrentTime()
    awards = gateway.settings.topics.topic("awards")
    assert await delivered(gateway.channel, infra.bootstrap, awards, level) == level.event_id


async def test_a_stream_that_reconnects_with_its_last_sequence_gets_every_notification_once_in_order(
    start_service, infra
) -> None:
    gateway = await start_service("gateway")
    awards = gateway.settings.topics.topic("awards")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)
    first = award("a1")
    # The stream is live once the consumer has joined and the first one arrives.
    assert await delivered(gateway.channel, infra.bootstrap, awards, first) == first.event_id
    sent = [first] + [award("a1") for _ in range(40)]
    received: list[tuple[int, str]] = []

    stream = stub.WatchAgent(
        pb.WatchAgentRequest(tenant_id="acme", agent_id="a1", after_sequence=0)
    )
    await produce(infra.bootstrap, awards, sent[1:21])
    async with asyncio.timeout(20):
        while len(received) < 12:  # mid-flow: some of the twenty still to come
            m = await stream.read()
            received.append((m.sequence, m.event.event_id))
    stream.cancel()  # the console goes away; what follows happens while it is gone
    await produce(infra.bootstrap, awards, [*sent[21:], sent[5], sent[30]])  # and two again
    await eventually(
        lambda: _stored(gateway.settings.database_url),
        lambda n: n == len(sent),
        what="every notification stored",
    )

    last = received[-1][0]
    again = stub.WatchAgent(
        pb.WatchAgentRequest(tenant_id="acme", agent_id="a1", after_sequence=last)
    )
    async with asyncio.timeout(20):
        while len(received) < len(sent):
            m = await again.read()
            received.append((m.sequence, m.event.event_id))
    # Nothing more comes: no notification twice.
    assert not await _more(again)
    again.cancel()

    assert [s for s, _ in received] == list(range(1, len(sent) + 1))
    assert [e for _, e in received] == [e.event_id for e in sent]


async def _stored(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM gateway.notifications"))
    finally:
        await conn.close()


async def _more(stream: object, within: float = 1.0) -> bool:
    """Whether the stream delivers anything more within `within` seconds."""
    try:
        async with asyncio.timeout(within):
            await stream.read()  # type: ignore[attr-defined]
    except TimeoutError:
        return False
    return True
