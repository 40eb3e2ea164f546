"""The slice end to end: intake to badges, boards, challenges and the live stream."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from aiokafka import AIOKafkaProducer

from accolade.runtime.interceptors import bad_request_violations
from accolade.v1 import envelope_pb2, feedback_service_pb2, gateway_service_pb2
from tests.platform import Platform, counter, eventually, interaction, read_all

pytestmark = pytest.mark.system

ACCEPTED = gateway_service_pb2.EVENT_STATUS_ACCEPTED
DUPLICATE = gateway_service_pb2.EVENT_STATUS_DUPLICATE


async def test_activity_and_feedback_become_badges_boards_and_challenges(
    platform: Platform, tenant: str
) -> None:
    await platform.apply_program(tenant)
    watched: list[envelope_pb2.Envelope] = []
    stream = platform.gateway.WatchAgent(
        gateway_service_pb2.WatchAgentRequest(tenant_id=tenant, agent_id="ana")
    )

    async def watch() -> None:
        async for message in stream:
            watched.append(message.event)

    roster = await platform.gateway.UpsertAgents(
        gateway_service_pb2.UpsertAgentsRequest(
            tenant_id=tenant,
            agents=[
                gateway_service_pb2.AgentProfile(agent_id=a, display_name=a.title())
                for a in ("ana", "ben", "cleo")
            ],
        )
    )
    assert roster.created == 3
    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.3)  # the stream is registered once the first read is pending

    ana = [interaction(tenant, "ana") for _ in range(11)]
    ben = [interaction(tenant, "ben") for _ in range(3)] + [
        interaction(tenant, "ben", resolved=False)
    ]
    cleo = [interaction(tenant, "cleo", resolved=False)]
    assert await platform.publish(ana + ben + cleo) == [ACCEPTED] * 16
    await platform.survey(tenant, "ana", 5)
    await platform.survey(tenant, "ben", 4)

    assert await eventually(lambda: _equal(platform.scores(tenant), {"ana": 11, "ben": 3})), (
        "the day's board counts resolved interactions"
    )
    assert await eventually(
        lambda: _equal(
            platform.badges(tenant, "ana"), ["first-resolution", "five-stars"], sort=True
        )
    )
    assert await platform.badges(tenant, "ben") == ["first-resolution"]
    assert await platform.badges(tenant, "cleo") == []
    assert await eventually(lambda: _equal(platform.progress(tenant, "ana"), (11, True)))
    assert await platform.progress(tenant, "ben") == (3, False)

    # The live stream tells ana about both badges and the challenge, and nothing of ben's.
    async def streamed() -> set[str]:
        return {e.badge_awarded.badge_id or e.challenge_completed.challenge_id for e in watched}

    assert await eventually(
        lambda: _equal(streamed(), {"first-resolution", "five-stars", "ten-resolutions-today"})
    )
    assert all(e.agent_id == "ana" and e.tenant_id == tenant for e in watched)
    stream.cancel()
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)

    # Every award explains itself: the triggering event is one of ana's.
    badges = await platform.achievements.ListAgentBadges(_badges_request(tenant, "ana"))
    first = next(b for b in badges.badges if b.badge_id == "first-resolution")
    assert first.explanation.rule_version == 1
    assert first.explanation.trigger_event_ids[0] in {e.event_id for e in ana}

    # Operations see it all in the metrics.
    assert counter(platform.metrics("gateway"), "accolade_gateway_rpc_requests_total") >= 1
    assert counter(platform.metrics("gateway"), "accolade_gateway_events_accepted_total") == 16
    assert counter(platform.metrics("feedback"), "accolade_feedback_rpc_requests_total") == 2
    # Feedback keeps the roster the gateway publishes.
    assert await eventually(
        lambda: _positive(platform.metrics("feedback"), "accolade_feedback_events_applied_total")
    )
    for service in ("achievements", "challenges", "leaderboards"):
        text = platform.metrics(service)
        assert counter(text, f"accolade_{service}_rpc_requests_total") >= 1, service
        assert counter(text, f"accolade_{service}_events_applied_total") >= 16, service
    achievements = platform.metrics("achievements")
    assert counter(achievements, "accolade_achievements_badges_awarded_total") == 3


async def test_every_event_sent_twice_gives_the_same_state_as_once(
    platform: Platform, tenant: str, infra
) -> None:
    await platform.apply_program(tenant)
    events = [interaction(tenant, f"agent-{i % 3}") for i in range(12)]
    assert await platform.publish(events) == [ACCEPTED] * 12
    assert await platform.publish(events) == [DUPLICATE] * 12
    # Copies that reach the topics directly (a replaying relay, say) are skipped too.
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(
                f"{platform.namespace}.activity.v1",
                e.SerializeToString(),
                key=f"{e.tenant_id}/{e.agent_id}".encode(),
            )
    finally:
        await producer.stop()
    expected = {"agent-0": 4, "agent-1": 4, "agent-2": 4}
    # Every consumer has applied (and committed) everything sent, the copies included, and
    # the awards are published: whatever the copies would have done, they have done.
    await platform.caught_up("leaderboards", "challenges", "achievements")
    await platform.published("achievements")
    assert await platform.scores(tenant) == expected
    assert await platform.progress(tenant, "agent-0") == (4, False)
    awards = await read_all(infra.bootstrap, f"{platform.namespace}.awards.v1")
    assert len({envelope_pb2.Envelope.FromString(v).event_id for v, _ in awards}) == 3


async def test_bad_input_is_refused_naming_the_field(platform: Platform, tenant: str) -> None:
    oversize = [interaction(tenant, "ana") for _ in range(1001)]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.publish(oversize)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in bad_request_violations(caught.value)] == ["events"]

    unknown = interaction(tenant, "ana")
    unknown.ClearField("interaction_completed")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.publish([unknown])
    assert [f for f, _ in bad_request_violations(caught.value)] == ["events[0].payload"]

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.feedback.SubmitSurvey(
            feedback_service_pb2.SubmitSurveyRequest(
                tenant_id=tenant,
                agent_id="ana",
                survey_id=str(uuid.uuid4()),
                interaction_id="i-1",
                csat=6,
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in bad_request_violations(caught.value)] == ["csat"]


async def test_an_undecodable_message_is_dead_lettered_and_processing_continues(
    platform: Platform, tenant: str, infra
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{platform.namespace}.activity.v1", b"\xff\xfe not protobuf", key=b"x/y"
        )
    finally:
        await producer.stop()
    assert await platform.publish([interaction(tenant, "ana")]) == [ACCEPTED]

    assert await eventually(lambda: _equal(platform.scores(tenant), {"ana": 1}))
    for consumer in ("achievements.badges", "challenges.progress", "leaderboards.scores"):
        dead = await read_all(infra.bootstrap, f"{platform.namespace}.{consumer}.dlq.v1")
        assert [v for v, _ in dead] == [b"\xff\xfe not protobuf"], consumer
        headers = dead[0][1]
        assert headers["reason"].startswith(b"undecodable"), consumer
        assert headers["source_topic"] == f"{platform.namespace}.activity.v1".encode()
    assert "accolade_leaderboards_dead_lettered_messages_total" in platform.metrics("leaderboards")


def _badges_request(tenant: str, agent: str):  # type: ignore[no-untyped-def]
    from accolade.v1 import achievements_service_pb2

    return achievements_service_pb2.ListAgentBadgesRequest(tenant_id=tenant, agent_id=agent)


async def _equal(awaitable, expected, *, sort: bool = False) -> bool:  # type: ignore[no-untyped-def]
    value = await awaitable
    if sort:
        value = sorted(value)
    return bool(value == expected)


async def _positive(metrics: str, name: str) -> bool:
    return counter(metrics, name) >= 3
