"""The challenges service over gRPC, fed through its real activity topic on a real broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import grpc
import pytest

from accolade.challenges._service import AGENT_PROGRESS
from accolade.runtime.interceptors import bad_request_violations
from accolade.testing import (
    by_event_id,
    caught_up,
    eventually,
    interaction,
    outbox_published,
    produce,
    read_topic,
    stays,
)
from accolade.v1 import challenges_service_pb2 as pb
from accolade.v1 import challenges_service_pb2_grpc as pb_grpc

CHALLENGE = "ten-resolutions-today"


def ten_resolutions(reply: pb.ListAgentChallengesResponse) -> pb.AgentChallenge:
    (challenge,) = [c for c in reply.challenges if c.challenge_id == CHALLENGE]
    return challenge


async def test_ten_resolutions_in_a_day_complete_the_challenge_once(start_service, infra) -> None:
    challenges = await start_service("challenges")
    stub = pb_grpc.ChallengesServiceStub(challenges.channel)
    activity = challenges.settings.topics.topic("activity")
    started = datetime.now(UTC)
    at = started - timedelta(minutes=3)
    today, yesterday = at.date().isoformat(), (at - timedelta(days=1)).date().isoformat()
    resolved = [interaction("acme", "a1", occurred_at=at) for _ in range(12)]

    async def standing(day: str) -> pb.AgentChallenge:
        return ten_resolutions(
            await stub.ListAgentChallenges(
                pb.ListAgentChallengesRequest(tenant_id="acme", agent_id="a1", day=day)
            )
        )

    # Nine resolutions today, copies of three, unresolved ones, and one resolution yesterday.
    await produce(
        infra.bootstrap,
        activity,
        [
            *(interaction("acme", "a1", resolved=False, occurred_at=at) for _ in range(3)),
            interaction("acme", "a1", occurred_at=at - timedelta(days=1)),
            *resolved[:9],
            *resolved[:3],
        ],
    )
    await eventually(lambda: standing(today), lambda c: c.progress == 9)
    await caught_up(challenges.settings)
    nine = await standing(today)
    assert (nine.progress, nine.target, nine.completed) == (9, 10, False)
    assert not nine.HasField("completed_at")
    assert (nine.period, nine.name) == (today, "10 resolutions today")
    before = await standing(yesterday)
    assert (before.period, before.progress, before.completed) == (yesterday, 1, False)

    # The tenth completes it; two more and another copy keep it completed.
    await produce(
        infra.bootstrap, activity, [resolved[9], resolved[9], *resolved[10:], resolved[5]]
    )
    await eventually(lambda: standing(today), lambda c: c.progress == 12)
    await caught_up(challenges.settings)
    done = await standing(today)
    assert (done.progress, done.completed) == (12, True)
    assert started <= done.completed_at.ToDatetime(tzinfo=UTC) <= datetime.now(UTC)
    assert (await standing(yesterday)).progress == 1

    await outbox_published(challenges.settings)
    topic = challenges.settings.topics.topic("challenges")
    published = list(by_event_id(await read_topic(infra.bootstrap, topic)).values())
    assert all(e.tenant_id == "acme" and e.agent_id == "a1" for e in published)
    (completed,) = [e for e in published if e.WhichOneof("payload") == "challenge_completed"]
    assert uuid.UUID(completed.event_id).version == 5
    assert completed.challenge_completed.challenge_id == CHALLENGE
    assert (completed.challenge_completed.period, completed.challenge_completed.target) == (
        today,
        10,
    )
    explanation = completed.challenge_completed.explanation
    assert (explanation.rule_id, explanation.rule_version) == (CHALLENGE, 1)
    assert explanation.window == f"day:{today}"
    assert (explanation.value, explanation.threshold) == (10, 10)
    assert list(explanation.trigger_event_ids) == [e.event_id for e in resolved[:10]]
    progressed = sorted(
        (e.challenge_progressed.period, e.challenge_progressed.progress)
        for e in published
        if e.WhichOneof("payload") == "challenge_progressed"
    )
    # Progress is announced up to the target, not beyond.
    assert progressed == sorted([(yesterday, 1), *((today, n) for n in range(1, 11))])

    # The completion went out in one batch with progress 10. tansu 0.6 answers ListOffsets
    # with the first offset of a partition's last batch plus one, which the relay once took
    # for a lost log, publishing everything again every second. Three seconds: three of its
    # checks of the broker's log.
    await stays(
        lambda: read_topic(infra.bootstrap, topic),
        lambda again: len(by_event_id(again)) == len(published),
        seconds=3,
        what="one copy of every challenge event",
    )


async def test_days_are_checked_and_default_to_today(start_service) -> None:
    challenges = await start_service("challenges")
    stub = pb_grpc.ChallengesServiceStub(challenges.channel)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListAgentChallenges(
            pb.ListAgentChallengesRequest(tenant_id="acme", agent_id="a1", day="2026-13-01")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in bad_request_violations(caught.value)] == ["day"]

    before = datetime.now(UTC).date().isoformat()
    reply = await stub.ListAgentChallenges(
        pb.ListAgentChallengesRequest(tenant_id="acme", agent_id="nobody")
    )
    after = datetime.now(UTC).date().isoformat()
    untouched = ten_resolutions(reply)
    assert untouched.period in (before, after)
    assert (untouched.progress, untouched.target, untouched.completed) == (0, 10, False)


async def test_an_agents_progress_is_read_through_an_index(start_service) -> None:
    challenges = await start_service("challenges")
    conn = await asyncpg.connect(challenges.settings.database_url)
    try:
        # Many challenges, agents and days, so the planner has a real choice to make.
        await conn.execute(
            "INSERT INTO challenges.challenge_progress "
            "(tenant_id, challenge_id, period, agent_id, progress, target, event_ids) "
            "SELECT 'acme', 'c' || (i / 200 % 20), date '2026-01-01' + (i / 4000), 'a' || (i % 200), "
            "1, 10, '{}' FROM generate_series(1, 40000) i"
        )
        await conn.execute("ANALYZE challenges.challenge_progress")
        plan = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) "
            + AGENT_PROGRESS.replace("challenge_progress", "challenges.challenge_progress"),
            "acme",
            "a7",
            date(2026, 1, 3),
        )
    finally:
        await conn.close()
    node = json.loads(plan)[0]["Plan"]
    while "Plans" in node and node.get("Node Type") not in ("Index Scan", "Bitmap Index Scan"):
        node = node["Plans"][0]
    assert node.get("Index Name") == "challenge_progress_by_agent", node
