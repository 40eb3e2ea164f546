"""Crashes, broker loss and restarts: every accepted event takes effect exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
import pytest

from accolade.local.embedded import EmbeddedBroker
from accolade.testing import holding
from accolade.v1 import envelope_pb2, gateway_service_pb2
from tests.platform import Platform, counter, eventually, interaction, read_all

pytestmark = pytest.mark.system

ACCEPTED = gateway_service_pb2.EVENT_STATUS_ACCEPTED
AGENTS = [f"agent-{i:02d}" for i in range(12)]


async def stream_events(
    platform: Platform, tenant: str, batches: int, stop: asyncio.Event | None = None
) -> list[envelope_pb2.Envelope]:
    """Sends batches of interactions (every third unresolved) until done or `stop`."""
    sent: list[envelope_pb2.Envelope] = []
    for b in range(batches):
        if stop is not None and stop.is_set():
            break
        batch = [
            interaction(tenant, AGENTS[(b + i) % len(AGENTS)], resolved=(b + i) % 3 != 0)
            for i in range(8)
        ]
        assert await platform.publish(batch) == [ACCEPTED] * len(batch)
        sent.extend(batch)
        await asyncio.sleep(0.05)
    return sent


def expected_scores(sent: list[envelope_pb2.Envelope]) -> dict[str, int]:
    return dict(Counter(e.agent_id for e in sent if e.interaction_completed.resolved_first_contact))


async def assert_exactly_once(
    platform: Platform, tenant: str, sent: list[envelope_pb2.Envelope]
) -> None:
    """Boards, challenges and badges agree with what intake accepted, counted once."""
    scores = expected_scores(sent)
    assert await eventually(lambda: _same(platform.scores(tenant), scores), within=60), (
        await platform.scores(tenant),
        scores,
    )
    # Every consumer has applied everything sent by now (the one killed may trail the rest).
    await platform.caught_up("leaderboards", "challenges", "achievements")
    for agent, resolved in scores.items():
        assert await platform.progress(tenant, agent) == (resolved, resolved >= 10)
    conn = await asyncpg.connect(platform.database_url)
    try:
        badges = await conn.fetch(
            "SELECT agent_id, count(*) AS n FROM achievements.agent_badges "
            "WHERE tenant_id = $1 GROUP BY agent_id",
            tenant,
        )
    finally:
        await conn.close()
    assert {r["agent_id"]: r["n"] for r in badges} == dict.fromkeys(scores, 1)
    for agent in scores:
        assert await platform.badges(tenant, agent) == ["first-resolution"]


async def test_killing_achievements_mid_batch_loses_and_doubles_nothing(
    platform: Platform, tenant: str
) -> None:
    await platform.apply_program(tenant)
    # Events keep coming until the kill, however long the consumer takes to start.
    stop = asyncio.Event()
    flowing = asyncio.create_task(stream_events(platform, tenant, batches=2000, stop=stop))
    conn = await asyncpg.connect(platform.database_url)
    try:

        async def applied() -> int:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM achievements.applied_events WHERE tenant_id = $1", tenant
                )
            )

        assert await eventually(lambda: _positive(applied())), "events applied before the kill"
        # Every batch records its events in applied_events first: holding that table makes
        # the next batch wait inside its transaction, which is where the kill lands.
        async with holding(platform.database_url, "achievements.applied_events") as holder:
            waiting = await eventually(lambda: _batch_waiting(holder, "accolade-achievements"))
            assert waiting, "a batch in flight when the kill came"
            before = await applied()
            platform.kill("achievements")
        assert await applied() == before  # the batch in flight left nothing behind
        await platform.restart("achievements")
        stop.set()
        sent = await flowing

        await assert_exactly_once(platform, tenant, sent)
        assert await applied() == len(sent) > before  # and events were applied after it too
    finally:
        await conn.close()
    # Each award went out once per agent, whatever the relay republished.
    awards = await read_all(platform.bootstrap, f"{platform.namespace}.awards.v1")
    announced = Counter(
        (e.agent_id, e.badge_awarded.badge_id)
        for e in {
            envelope_pb2.Envelope.FromString(v).event_id: envelope_pb2.Envelope.FromString(v)
            for v, _ in awards
        }.values()
    )
    assert set(announced.values()) == {1}
    assert {agent for agent, _ in announced} == set(expected_scores(sent))


async def _positive(awaitable) -> bool:  # type: ignore[no-untyped-def]
    return bool(await awaitable > 0)


async def _batch_waiting(conn: asyncpg.Connection, application: str) -> bool:
    """Whether a backend of `application` waits on a lock inside its transaction."""
    # Inside a transaction the activity view is a snapshot taken once; take a new one.
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    return bool(
        await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
            "AND wait_event_type = 'Lock' AND xact_start IS NOT NULL",
            application,
        )
    )


async def test_a_broker_that_loses_everything_loses_no_accepted_event(
    platform_own_broker: Platform, private_broker: EmbeddedBroker, tenant: str
) -> None:
    platform = platform_own_broker
    await platform.apply_program(tenant)
    stop = asyncio.Event()
    flowing = asyncio.create_task(stream_events(platform, tenant, batches=60, stop=stop))
    await asyncio.sleep(0.8)
    # Intake keeps accepting while the broker is away: it needs only PostgreSQL.
    await asyncio.to_thread(private_broker.restart)
    await asyncio.sleep(1.0)
    stop.set()
    sent = await flowing
    assert len(sent) > 16

    await assert_exactly_once(platform, tenant, sent)
    await platform.wait_serving(platform.endpoints, within=30)
    # The gateway found the broker emptied and published its retained events again.
    republished = counter(
        platform.metrics("gateway"), "accolade_gateway_outbox_republished_messages_total"
    )
    assert republished > 0


async def _same(awaitable, expected) -> bool:  # type: ignore[no-untyped-def]
    return bool(await awaitable == expected)
