"""The live notification hub: streams get their agent's recognition, and a failed hub returns."""

from __future__ import annotations

import asyncio
import uuid

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

    def fails_once(self: Hub, envelope: envelope_pb2.Envelope) -> None:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("a bug in the hub")
        publish(self, envelope)

    monkeypatch.setattr(Hub, "publish", fails_once)
    await produce(infra.bootstrap, awards, [award("a1")])
    await eventually(status, lambda s: s == NOT_SERVING, what="NOT_SERVING while the hub is down")
    await eventually(status, lambda s: s == SERVING, what="SERVING once the hub is back")

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
