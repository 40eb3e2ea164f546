"""Bounded storage: inbox, intake and outbox rows are purged past their retention, no sooner."""

from __future__ import annotations

import asyncpg

from accolade.runtime import retention
from accolade.testing import caught_up, eventually, interaction, produce
from accolade.v1 import gateway_service_pb2 as pb
from accolade.v1 import gateway_service_pb2_grpc as pb_grpc


async def test_purge_deletes_in_batches_only_what_is_past_retention(
    runtime_pool: asyncpg.Pool,
) -> None:
    await runtime_pool.execute(
        "CREATE TABLE seen (id int PRIMARY KEY, at timestamptz NOT NULL);"
        "INSERT INTO seen SELECT i, now() - make_interval(hours => CASE WHEN i <= 250 THEN 3 ELSE 1 END) "
        "FROM generate_series(1, 400) i"
    )
    async with runtime_pool.acquire() as conn:
        deleted = await retention.purge(conn, "seen", "at", 2 * 3600, batch=100)
        again = await retention.purge(conn, "seen", "at", 2 * 3600, batch=100)
    left = await runtime_pool.fetchval("SELECT min(id) FROM seen")
    assert (deleted, again, left) == (250, 0, 251)


async def test_services_purge_the_inbox_and_intake_past_their_retention(
    start_service, infra
) -> None:
    # Short retentions and purges, as an operator may set them; the inbox still outlasts
    # what the outbox and the topics keep.
    quick = {
        "purge_interval_seconds": 0.2,
        "outbox_retention_seconds": 60.0,
        "topic_retention_seconds": 60.0,
        "inbox_retention_seconds": 600.0,
        "intake_retention_seconds": 600.0,
    }
    gateway = await start_service("gateway", **quick)
    leaderboards = await start_service("leaderboards", **quick)
    old, recent = interaction("acme", "a1"), interaction("acme", "a2")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)
    await stub.PublishEvents(pb.PublishEventsRequest(events=[old, recent]))
    await produce(infra.bootstrap, leaderboards.settings.topics.topic("activity"), [old, recent])
    await caught_up(leaderboards.settings)
    conn = await asyncpg.connect(gateway.settings.database_url)
    try:
        # One event of each table was recorded an hour ago, beyond its retention.
        await conn.execute(
            "UPDATE gateway.intake_events SET recorded_at = now() - interval '1 hour' WHERE event_id = $1",
            old.event_id,
        )
        await conn.execute(
            "UPDATE leaderboards.applied_events SET applied_at = now() - interval '1 hour' "
            "WHERE event_id = $1",
            old.event_id,
        )

        async def kept(table: str) -> set[str]:
            rows = await conn.fetch(f"SELECT event_id::text FROM {table}")
            return {r[0] for r in rows}

        await eventually(
            lambda: kept("gateway.intake_events"), lambda ids: ids == {recent.event_id}
        )
        await eventually(
            lambda: kept("leaderboards.applied_events"), lambda ids: ids == {recent.event_id}
        )
    finally:
        await conn.close()
    # Within the retention a resend is a duplicate; past it, the id is free again.
    again = await stub.PublishEvents(pb.PublishEventsRequest(events=[recent, old]))
    assert [r.status for r in again.results] == [
        pb.EVENT_STATUS_DUPLICATE,
        pb.EVENT_STATUS_ACCEPTED,
    ]
