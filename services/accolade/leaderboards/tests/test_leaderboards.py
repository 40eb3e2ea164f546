"""The leaderboards service over gRPC, fed through its real activity topic on a real broker."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest

from accolade.runtime.interceptors import bad_request_violations
from accolade.testing import (
    caught_up,
    eventually,
    fail_over,
    holding,
    interaction,
    metric,
    produce,
    read_topic,
)
from accolade.v1 import envelope_pb2
from accolade.v1 import leaderboards_service_pb2 as pb
from accolade.v1 import leaderboards_service_pb2_grpc as pb_grpc

BOARD = "daily-resolutions"


def ranking(reply: pb.GetLeaderboardResponse) -> list[tuple[int, str, float]]:
    return [(e.rank, e.agent_id, e.score) for e in reply.entries]


async def test_agents_are_ranked_by_resolutions_per_day(start_service, infra) -> None:
    leaderboards = await start_service("leaderboards")
    stub = pb_grpc.LeaderboardsServiceStub(leaderboards.channel)
    at = datetime.now(UTC) - timedelta(minutes=3)
    today, yesterday = at.date().isoformat(), (at - timedelta(days=1)).date().isoformat()

    def resolved(
        agent: str, n: int, *, tenant: str = "acme", days_ago: int = 0
    ) -> list[envelope_pb2.Envelope]:
        when = at - timedelta(days=days_ago)
        return [interaction(tenant, agent, occurred_at=when) for _ in range(n)]

    alice, dave = resolved("alice", 3), resolved("dave", 1)
    await produce(
        infra.bootstrap,
        leaderboards.settings.topics.topic("activity"),
        [
            # Carol before Bob: ties are ordered by agent id, not by who got there first.
            *resolved("carol", 2),
            *resolved("bob", 2),
            *alice,
            *dave,
            *resolved("dave", 5, days_ago=1),
            # Erin only has unresolved interactions, which do not count.
            *(interaction("acme", "erin", resolved=False, occurred_at=at) for _ in range(4)),
            # Copies change nothing; another tenant's agents are on another board.
            alice[0],
            dave[0],
            *resolved("zed", 9, tenant="globex"),
        ],
    )

    async def board(
        day: str = today, limit: int = 0, tenant: str = "acme"
    ) -> pb.GetLeaderboardResponse:
        return await stub.GetLeaderboard(
            pb.GetLeaderboardRequest(tenant_id=tenant, day=day, limit=limit)
        )

    async def rank(agent: str, day: str = today, tenant: str = "acme") -> tuple[int, float, int]:
        r = await stub.GetAgentRank(
            pb.GetAgentRankRequest(tenant_id=tenant, agent_id=agent, board_id=BOARD, day=day)
        )
        assert (r.board_id, r.period) == (BOARD, day)
        return r.rank, r.score, r.total_agents

    top = [(1, "alice", 3), (2, "bob", 2), (2, "carol", 2), (4, "dave", 1)]
    await eventually(board, lambda r: ranking(r) == top)
    await caught_up(leaderboards.settings)

    everyone = await board()
    assert (everyone.board_id, everyone.period, everyone.total_agents) == (BOARD, today, 4)
    assert ranking(everyone) == top
    two = await board(limit=2)
    assert (ranking(two), two.total_agents) == (top[:2], 4)
    assert ranking(await board(limit=3)) == top[:3]
    assert ranking(await board(limit=100)) == top

    assert await rank("alice") == (1, 3, 4)
    assert await rank("bob") == (2, 2, 4)
    assert await rank("carol") == (2, 2, 4)
    assert await rank("dave") == (4, 1, 4)
    assert await rank("erin") == (0, 0, 4)

    # Pages keep the board's ranks, a page inside a tie included.
    page = await stub.GetLeaderboard(
        pb.GetLeaderboardRequest(tenant_id="acme", day=today, limit=2, offset=2)
    )
    assert (ranking(page), page.total_agents) == (top[2:4], 4)
    past = await stub.GetLeaderboard(pb.GetLeaderboardRequest(tenant_id="acme", offset=4))
    assert (ranking(past), past.total_agents) == ([], 4)

    # Around an agent, and the share of the others whose score the agent's beats or equals.
    async def around(agent: str, k: int) -> tuple[list[tuple[int, str, float]], float]:
        r = await stub.GetAgentRank(
            pb.GetAgentRankRequest(tenant_id="acme", agent_id=agent, day=today, around=k)
        )
        return [(e.rank, e.agent_id, e.score) for e in r.around], r.percentile

    assert await around("carol", 1) == (top[1:4], 100 * 2 / 3)  # beats dave, equals bob
    assert await around("alice", 2) == (top[:3], 100)
    assert await around("dave", 10) == (top, 0)
    assert await around("erin", 3) == ([], 0)
    assert await around("bob", 0) == ([], 100 * 2 / 3)

    # The bottom, lowest placed first, with the ranks of the whole board.
    bottom = await stub.GetLeaderboardBottom(
        pb.GetLeaderboardBottomRequest(tenant_id="acme", day=today, limit=2)
    )
    assert [(e.rank, e.agent_id, e.score) for e in bottom.entries] == top[::-1][:2]
    # How the scores spread: 1 | 2 2 3 in two buckets from the lowest to the highest.
    spread = await stub.GetScoreDistribution(
        pb.GetScoreDistributionRequest(tenant_id="acme", day=today, buckets=2)
    )
    assert (spread.min_score, spread.max_score, spread.median_score) == (1, 3, 2)
    assert [(b.lower, b.upper, b.agents) for b in spread.buckets] == [(1, 2, 1), (2, 3, 3)]

    before = await board(day=yesterday)
    assert (before.period, ranking(before), before.total_agents) == (yesterday, [(1, "dave", 5)], 1)
    assert await rank("dave", day=yesterday) == (1, 5, 1)
    assert await rank("alice", day=yesterday) == (0, 0, 1)

    assert ranking(await board(tenant="globex")) == [(1, "zed", 9)]
    assert await rank("zed", tenant="globex") == (1, 9, 1)
    assert await rank("zed") == (0, 0, 4)


async def test_bad_requests_name_the_field_and_unknown_boards_are_not_found(
    start_service,
) -> None:
    leaderboards = await start_service("leaderboards")
    stub = pb_grpc.LeaderboardsServiceStub(leaderboards.channel)

    async def violations(call: Awaitable[object]) -> list[str]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        return [f for f, _ in bad_request_violations(caught.value)]

    assert await violations(
        stub.GetLeaderboard(pb.GetLeaderboardRequest(tenant_id="acme", limit=101))
    ) == ["limit"]
    assert await violations(
        stub.GetLeaderboard(pb.GetLeaderboardRequest(tenant_id="acme", limit=-1))
    ) == ["limit"]
    assert await violations(
        stub.GetLeaderboard(pb.GetLeaderboardRequest(tenant_id="acme", day="2026-13-01"))
    ) == ["day"]
    assert await violations(
        stub.GetAgentRank(pb.GetAgentRankRequest(tenant_id="acme", agent_id=""))
    ) == ["agent_id"]
    assert await violations(
        stub.GetLeaderboard(pb.GetLeaderboardRequest(tenant_id="acme", offset=-1))
    ) == ["offset"]
    assert await violations(
        stub.GetAgentRank(pb.GetAgentRankRequest(tenant_id="acme", agent_id="a1", around=11))
    ) == ["around"]
    assert await violations(
        stub.GetScoreDistribution(pb.GetScoreDistributionRequest(tenant_id="acme", buckets=51))
    ) == ["buckets"]

    for call in (
        stub.GetLeaderboard(pb.GetLeaderboardRequest(tenant_id="acme", board_id="fastest-typist")),
        stub.GetAgentRank(
            pb.GetAgentRankRequest(tenant_id="acme", agent_id="a1", board_id="fastest-typist")
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert "fastest-typist" in (caught.value.details() or "")

    # An empty board id is the built-in board, and an empty day is today (UTC).
    before = datetime.now(UTC).date().isoformat()
    empty = await stub.GetLeaderboard(pb.GetLeaderboardRequest(tenant_id="acme"))
    assert (empty.board_id, empty.total_agents, list(empty.entries)) == (BOARD, 0, [])
    assert empty.period in (before, datetime.now(UTC).date().isoformat())


async def test_statement_timeouts_and_a_read_only_failover_lose_and_dead_letter_nothing(
    start_service, infra, database_url
) -> None:
    database = database_url.partition("?")[0].rsplit("/", 1)[-1]
    admin = await asyncpg.connect(infra.database_url)
    # Statements that wait longer than this are cancelled, as an operator may configure.
    await admin.execute(f'ALTER DATABASE "{database}" SET statement_timeout = 300')
    leaderboards = await start_service("leaderboards")
    stub = pb_grpc.LeaderboardsServiceStub(leaderboards.channel)
    settings = leaderboards.settings
    activity, dead_letters = (
        settings.topics.topic("activity"),
        settings.topics.dead_letter("leaderboards.scores"),
    )

    async def board() -> list[tuple[int, str, float]] | None:
        try:
            return ranking(await stub.GetLeaderboard(pb.GetLeaderboardRequest(tenant_id="acme")))
        except grpc.aio.AioRpcError as error:
            # Right after a failover a pooled connection may be a cut one: the service
            # answers UNAVAILABLE, and a client tries again, as the README says.
            if error.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            return None

    def met(reason: str):  # type: ignore[no-untyped-def]
        async def tried() -> bool:
            """Whether the service has met the trouble: retried for it, or dead-lettered."""
            retried = await metric(
                leaderboards.metrics_url,
                "accolade_leaderboards_consumer_retries_total",
                reason=reason,
            )
            return bool(retried) or bool(await read_topic(infra.bootstrap, dead_letters))

        return tried

    try:
        await produce(infra.bootstrap, activity, [interaction("acme", "ana")])
        await eventually(board, lambda b: b == [(1, "ana", 1)])

        # Someone holds the board's table: the consumer's upsert waits until cancelled.
        async with holding(database_url, "leaderboards.period_scores"):
            await produce(infra.bootstrap, activity, [interaction("acme", "ana") for _ in range(2)])
            await eventually(met("timeout"), bool, what="a statement timeout met")
        await eventually(board, lambda b: b == [(1, "ana", 3)], what="applied after the timeouts")

        # A failover: the database is read-only for a while.
        await fail_over(admin, database, read_only=True)
        await produce(infra.bootstrap, activity, [interaction("acme", "ana") for _ in range(3)])
        await eventually(met("read_only"), bool, what="the read-only database met")
        await fail_over(admin, database, read_only=False)
        await eventually(board, lambda b: b == [(1, "ana", 6)], what="every event applied")
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" RESET ALL')
        await admin.close()
    await caught_up(settings)
    assert await read_topic(infra.bootstrap, dead_letters) == []
    assert await board() == [(1, "ana", 6)]


async def test_the_rank_index_follows_what_other_replicas_write(
    start_service, infra, database_url
) -> None:
    leaderboards = await start_service("leaderboards")
    stub = pb_grpc.LeaderboardsServiceStub(leaderboards.channel)
    activity = leaderboards.settings.topics.topic("activity")

    async def board() -> list[tuple[int, str, float]]:
        return ranking(await stub.GetLeaderboard(pb.GetLeaderboardRequest(tenant_id="acme")))

    # Read once: this process now ranks today's board from its index.
    await produce(infra.bootstrap, activity, [interaction("acme", "ana")])
    await eventually(board, lambda b: b == [(1, "ana", 1)])

    # Another replica, consuming other partitions, writes its agents' scores to the table.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO leaderboards.period_scores (tenant_id, board_id, period, agent_id, "
            "  score) VALUES ('acme', $1, (now() AT TIME ZONE 'UTC')::date, 'bo', 5), "
            "  ('acme', $1, (now() AT TIME ZONE 'UTC')::date, 'cy', 5)",
            BOARD,
        )
    finally:
        await conn.close()
    await eventually(
        board,
        lambda b: b == [(1, "bo", 5), (1, "cy", 5), (3, "ana", 1)],
        what="the scores another replica wrote",
    )
    rank = await stub.GetAgentRank(pb.GetAgentRankRequest(tenant_id="acme", agent_id="cy"))
    assert (rank.rank, rank.score, rank.total_agents) == (1, 5, 3)

    # What this process writes itself and what it reads back from the table agree.
    await produce(infra.bootstrap, activity, [interaction("acme", "cy")])
    await eventually(board, lambda b: b == [(1, "cy", 6), (2, "bo", 5), (3, "ana", 1)])
    await caught_up(leaderboards.settings)
    assert await board() == [(1, "cy", 6), (2, "bo", 5), (3, "ana", 1)]
