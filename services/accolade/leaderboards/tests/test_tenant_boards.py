"""A tenant's boards over gRPC: applied as data, fed through the real topics, ranked by
their metric in their own time zone, with the agents not yet eligible listed apart."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
import pytest

from accolade.runtime.interceptors import bad_request_violations
from accolade.testing import caught_up, eventually, interaction, produce, survey
from accolade.v1 import leaderboards_service_pb2 as pb
from accolade.v1 import leaderboards_service_pb2_grpc as pb_grpc
from accolade.v1.achievements_service_pb2 import ObjectMeta

NEW_YORK, TOKYO = ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")

AHT = pb.LeaderboardDefinition(
    metadata=ObjectMeta(id="aht-week", name="Handle time this week"),
    spec=pb.LeaderboardSpec(
        event="interaction_completed",
        metric="avg",
        field="handle_time",
        direction="lower",
        period="week",
        time_zone="America/New_York",
        min_events=2,
    ),
)
CSAT = pb.LeaderboardDefinition(
    metadata=ObjectMeta(id="csat-month", name="CSAT this month"),
    spec=pb.LeaderboardSpec(
        event="survey_submitted", metric="avg", field="csat", period="month", time_zone="Asia/Tokyo"
    ),
)


# A lateness that still counts the events of early 2026 these tests send.
SINCE_2026 = int((datetime.now(UTC) - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds()) + 86400


def ranking(reply: pb.GetLeaderboardResponse) -> list[tuple[int, str, float]]:
    return [(e.rank, e.agent_id, e.score) for e in reply.entries]


async def test_boards_rank_by_their_metric_in_their_zone(start_service, infra) -> None:
    leaderboards = await start_service("leaderboards", lateness_seconds=SINCE_2026)
    stub = pb_grpc.LeaderboardsServiceStub(leaderboards.channel)
    topics = leaderboards.settings.topics
    applied = await stub.ApplyBoards(
        pb.ApplyBoardsRequest(
            tenant_id="acme", boards=[AHT, CSAT], effective_at=_ts(datetime(2026, 3, 1, tzinfo=UTC))
        )
    )
    assert [(c.kind, c.id, c.action, c.version) for c in applied.changes] == [
        ("Leaderboard", "aht-week", "created", 1),
        ("Leaderboard", "csat-month", "created", 1),
    ]

    def at(zone: ZoneInfo, *when: int) -> datetime:
        return datetime(*when, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]

    # The week of Monday 30 March in New York: 23:30 on Tuesday 31 March there is already
    # 1 April in UTC, and still that week. Bo has one interaction of the two it needs.
    await produce(
        infra.bootstrap,
        topics.topic("activity"),
        [
            interaction(
                "acme", "ana", occurred_at=at(NEW_YORK, 2026, 3, 31, 23, 30), handle_seconds=200
            ),
            interaction(
                "acme", "ana", occurred_at=at(NEW_YORK, 2026, 3, 30, 9, 0), handle_seconds=300
            ),
            interaction(
                "acme", "cy", occurred_at=at(NEW_YORK, 2026, 4, 1, 8, 0), handle_seconds=400
            ),
            interaction(
                "acme", "cy", occurred_at=at(NEW_YORK, 2026, 4, 2, 8, 0), handle_seconds=500
            ),
            interaction(
                "acme", "bo", occurred_at=at(NEW_YORK, 2026, 4, 3, 8, 0), handle_seconds=100
            ),
            # Sunday 29 March, 23:30 in New York: the week before.
            interaction(
                "acme", "bo", occurred_at=at(NEW_YORK, 2026, 3, 29, 23, 30), handle_seconds=50
            ),
        ],
    )
    # 20:00 on 31 March in UTC is 05:00 on 1 April in Tokyo: April's board.
    await produce(
        infra.bootstrap,
        topics.topic("feedback"),
        [
            survey("acme", "ana", 5, occurred_at=datetime(2026, 3, 31, 20, 0, tzinfo=UTC)),
            survey("acme", "ana", 4, occurred_at=datetime(2026, 4, 20, 0, 0, tzinfo=UTC)),
            survey("acme", "bo", 4, occurred_at=datetime(2026, 3, 31, 10, 0, tzinfo=UTC)),
        ],
    )

    async def board(board_id: str, day: str) -> pb.GetLeaderboardResponse:
        return await stub.GetLeaderboard(
            pb.GetLeaderboardRequest(tenant_id="acme", board_id=board_id, day=day)
        )

    week = await eventually(
        lambda: board("aht-week", "2026-04-02"),
        lambda r: ranking(r) == [(1, "ana", 250), (2, "cy", 450)],
    )
    assert (week.period, week.total_agents, week.not_eligible_agents) == ("2026-03-30", 2, 1)
    await caught_up(leaderboards.settings)
    bo = await stub.GetAgentRank(
        pb.GetAgentRankRequest(
            tenant_id="acme", agent_id="bo", board_id="aht-week", day="2026-04-03"
        )
    )
    assert (bo.rank, bo.events_needed, bo.total_agents, bo.period) == (0, 1, 2, "2026-03-30")
    before = await board("aht-week", "2026-03-29")
    assert (before.period, ranking(before), before.not_eligible_agents) == ("2026-03-23", [], 1)

    april = await board("csat-month", "2026-04-30")
    assert (april.period, ranking(april)) == ("2026-04-01", [(1, "ana", 4.5)])
    march = await board("csat-month", "2026-03-02")
    assert (march.period, ranking(march)) == ("2026-03-01", [(1, "bo", 4)])

    listed = await stub.ListBoards(pb.ListBoardsRequest(tenant_id="acme"))
    assert [(b.metadata.id, b.version) for b in listed.boards] == [
        ("daily-resolutions", 1),
        ("aht-week", 1),
        ("csat-month", 1),
    ]
    assert listed.boards[1].spec == AHT.spec
    # Applying the same documents again changes nothing.
    again = await stub.ApplyBoards(pb.ApplyBoardsRequest(tenant_id="acme", boards=[AHT, CSAT]))
    assert [c.action for c in again.changes] == ["unchanged", "unchanged"]


async def test_a_bad_board_is_refused_naming_each_problem_and_nothing_is_applied(
    start_service,
) -> None:
    leaderboards = await start_service("leaderboards")
    stub = pb_grpc.LeaderboardsServiceStub(leaderboards.channel)
    bad = pb.LeaderboardDefinition(
        metadata=ObjectMeta(id="csat", name="CSAT"),
        spec=pb.LeaderboardSpec(
            event="survey_submitted", when="event.csatt >= 4", time_zone="Mars/Olympus"
        ),
    )
    unknown = pb.LeaderboardDefinition(
        metadata=ObjectMeta(id="naps", name="Naps"), spec=pb.LeaderboardSpec(event="nap_taken")
    )

    async def violations(call: Awaitable[object]) -> list[tuple[str, str]]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        return bad_request_violations(caught.value)

    found = await violations(
        stub.ApplyBoards(pb.ApplyBoardsRequest(tenant_id="acme", boards=[AHT, bad, unknown]))
    )
    assert [f for f, _ in found] == [
        "boards[1].spec.when",
        "boards[1].spec.time_zone",
        "boards[2].spec.event",
    ]
    assert dict(found)["boards[1].spec.when"].startswith("1:6: ")  # `.csatt`, in the expression
    listed = await stub.ListBoards(pb.ListBoardsRequest(tenant_id="acme"))
    assert [b.metadata.id for b in listed.boards] == ["daily-resolutions"]  # not even AHT
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetLeaderboard(pb.GetLeaderboardRequest(tenant_id="acme", board_id="aht-week"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def _ts(when: datetime):  # type: ignore[no-untyped-def]
    from google.protobuf.timestamp_pb2 import Timestamp

    t = Timestamp()
    t.FromDatetime(when)
    return t


async def test_a_changed_board_counts_from_its_effective_time_and_reads_the_version_in_force(
    start_service, infra
) -> None:
    leaderboards = await start_service("leaderboards", lateness_seconds=SINCE_2026)
    stub = pb_grpc.LeaderboardsServiceStub(leaderboards.channel)
    activity = leaderboards.settings.topics.topic("activity")
    fcr = pb.LeaderboardDefinition(
        metadata=ObjectMeta(id="fcr", name="Resolutions"),
        spec=pb.LeaderboardSpec(
            event="interaction_completed", when="event.resolved_first_contact", period="all_time"
        ),
    )
    await stub.ApplyBoards(
        pb.ApplyBoardsRequest(
            tenant_id="acme", boards=[fcr], effective_at=_ts(datetime(2026, 3, 1, tzinfo=UTC))
        )
    )
    await produce(infra.bootstrap, activity, [interaction("acme", "ana")])

    async def board() -> list[tuple[int, str, float]]:
        reply = await stub.GetLeaderboard(
            pb.GetLeaderboardRequest(tenant_id="acme", board_id="fcr")
        )
        return ranking(reply)

    await eventually(board, lambda b: b == [(1, "ana", 1)])

    # Version 2 counts every interaction, from now on: ana's earlier one stays version 1's.
    fcr.spec.when = ""
    changed = await stub.ApplyBoards(pb.ApplyBoardsRequest(tenant_id="acme", boards=[fcr]))
    assert [(c.action, c.version) for c in changed.changes] == [("updated", 2)]
    assert await board() == []  # read at once: version 2, which has counted nothing yet
    after = datetime.now(UTC)
    await produce(
        infra.bootstrap,
        activity,
        [interaction("acme", "bo", resolved=False, occurred_at=after) for _ in range(2)],
    )
    await eventually(board, lambda b: b == [(1, "bo", 2)], what="version 2's board")

    # A version applied to come into force tomorrow is not read before then.
    fcr.metadata.name = "Resolutions (from tomorrow)"
    later = await stub.ApplyBoards(
        pb.ApplyBoardsRequest(
            tenant_id="acme", boards=[fcr], effective_at=_ts(after + timedelta(days=1))
        )
    )
    assert [(c.action, c.version) for c in later.changes] == [("updated", 3)]
    await caught_up(leaderboards.settings)
    assert await board() == [(1, "bo", 2)]
