"""Period close: a board's period ends in its own time zone, closes once the tenant's
lateness has passed, keeps its standings for queries, announces its top agents on the
leaderboards topic, and a Service Star badge follows from the announcement."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from google.protobuf.timestamp_pb2 import Timestamp

from accolade import programs
from accolade.leaderboards._close import period_closed_id
from accolade.testing import (
    caught_up,
    change_tenant,
    eventually,
    interaction,
    produce,
    read_topic,
    survey,
)
from accolade.v1 import achievements_service_pb2 as apb
from accolade.v1 import achievements_service_pb2_grpc as apb_grpc
from accolade.v1 import leaderboards_service_pb2 as pb
from accolade.v1 import leaderboards_service_pb2_grpc as pb_grpc
from accolade.v1.achievements_service_pb2 import ObjectMeta

NEW_YORK = ZoneInfo("America/New_York")
DAYS = 86400


def _board(board_id: str, period: str) -> pb.LeaderboardDefinition:
    return pb.LeaderboardDefinition(
        metadata=ObjectMeta(id=board_id, name=board_id),
        spec=pb.LeaderboardSpec(
            event="interaction_completed", period=period, time_zone="America/New_York"
        ),
    )


def _ts(at: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(at)
    return t


def ranking(reply: pb.GetLeaderboardResponse) -> list[tuple[int, str, float]]:
    return [(e.rank, e.agent_id, e.score) for e in reply.entries]


async def test_a_month_closes_in_its_zone_and_its_top_agents_are_announced(
    start_service, infra
) -> None:
    now = datetime.now(UTC)
    local = now.astimezone(NEW_YORK)
    this_month = date(local.year, local.month, 1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    ended = datetime.combine(this_month, datetime.min.time(), NEW_YORK)  # last month's end
    # A lateness that lets every event of last month count, until it is shortened below.
    leaderboards = await start_service("leaderboards", lateness_seconds=60 * DAYS)
    achievements = await start_service("achievements")
    stub = pb_grpc.LeaderboardsServiceStub(leaderboards.channel)
    settings, topics = leaderboards.settings, leaderboards.settings.topics
    since = _ts(datetime.combine(last_month, datetime.min.time(), UTC) - timedelta(days=10))
    csat = next(b for b in programs.starter_boards("acme").boards if b.metadata.id == "csat-month")
    await stub.ApplyBoards(
        pb.ApplyBoardsRequest(
            tenant_id="acme",
            boards=[_board("resolutions-month", "month"), _board("resolutions", "all_time"), csat],
            effective_at=since,
        )
    )
    star = programs.starter("acme", only=["service-star"])
    star.effective_at.CopyFrom(since)
    await apb_grpc.AchievementsServiceStub(achievements.channel).ApplyProgram(star)

    # 23:30 on the last day of last month in New York is already this month in UTC: it
    # counts in last month. 00:30 on the first of this month counts in this one.
    late_evening = ended - timedelta(minutes=30)
    mid_month = datetime.combine(last_month.replace(day=15), datetime.min.time(), NEW_YORK)
    first_hour = ended + min(timedelta(minutes=30), (now - ended) / 2)
    work = [("ana", late_evening + timedelta(minutes=k)) for k in range(3)]
    work += [("ben", late_evening + timedelta(minutes=k)) for k in range(2)]
    work += [("cy", mid_month), ("cy", mid_month + timedelta(hours=1)), ("eve", mid_month)]
    work += [("cy", first_hour)]
    await produce(
        infra.bootstrap,
        topics.topic("activity"),
        [interaction("acme", a, resolved=True, occurred_at=at) for a, at in work],
    )
    # CSAT this month (UTC, from 20 surveys): Ana's 5s beat Ben's 4s; Cy has too few.
    surveys = [("ana", 5)] * 20 + [("ben", 4)] * 20 + [("cy", 5)] * 3
    noon = datetime.combine(last_month.replace(day=15), datetime.min.time(), UTC)
    await produce(
        infra.bootstrap,
        topics.topic("feedback"),
        [
            survey("acme", a, c, occurred_at=noon + timedelta(minutes=i))
            for i, (a, c) in enumerate(surveys)
        ],
    )
    await caught_up(settings)

    async def board(board_id: str, day: date) -> pb.GetLeaderboardResponse:
        return await stub.GetLeaderboard(
            pb.GetLeaderboardRequest(tenant_id="acme", board_id=board_id, day=day.isoformat())
        )

    before = await board("resolutions-month", this_month - timedelta(days=1))
    standings = [(1, "ana", 3), (2, "ben", 2), (2, "cy", 2), (4, "eve", 1)]
    assert (before.period, ranking(before)) == (last_month.isoformat(), standings)
    assert ranking(await board("resolutions-month", this_month)) == [(1, "cy", 1)]

    async def announced() -> list:
        read = await read_topic(infra.bootstrap, topics.topic("leaderboards"))
        return [e for _, e in read if e.WhichOneof("payload") == "period_closed"]

    assert await announced() == []  # last month is still open: its lateness runs

    # The lateness shortened to less than the time since last month ended: it closes.
    shorter = max(1, int((datetime.now(UTC) - ended).total_seconds()) - 60)
    await change_tenant(settings, "acme", version=2, lateness_seconds=shorter)
    closed = await eventually(announced, lambda got: len(got) == 5)
    got = {
        (e.period_closed.board_id, e.agent_id): (e.period_closed.rank, e.period_closed.score)
        for e in closed
    }
    # The podium, ties included (Eve, fourth, is not on it); CSAT's two eligible agents.
    assert got == {
        ("resolutions-month", "ana"): (1, 3),
        ("resolutions-month", "ben"): (2, 2),
        ("resolutions-month", "cy"): (2, 2),
        ("csat-month", "ana"): (1, 5),
        ("csat-month", "ben"): (2, 4),
    }
    for e in closed:
        c = e.period_closed
        assert e.event_id == period_closed_id("acme", c.board_id, 1, c.period, e.agent_id)
        assert (c.period, c.period_end, c.kind, c.version) == (
            last_month.isoformat(),
            this_month.isoformat(),
            "Leaderboard",
            1,
        )
        assert c.total_agents == (4 if c.board_id == "resolutions-month" else 2)

    # Service Star: the top of the month's CSAT board earns it, and only the top.
    badges = apb_grpc.AchievementsServiceStub(achievements.channel)

    async def stars(agent: str) -> list[str]:
        reply = await badges.ListAgentBadges(
            apb.ListAgentBadgesRequest(tenant_id="acme", agent_id=agent)
        )
        return [b.tier_id for b in reply.badges if b.badge_id == "service-star"]

    assert await eventually(lambda: stars("ana"), lambda got: got == ["bronze"])
    await caught_up(achievements.settings)
    assert await stars("ben") == []

    # The closed month is frozen. With the long lateness back, an event of last month is
    # on time again: the all-time board counts it, the closed month does not.
    await change_tenant(settings, "acme", version=3, lateness_seconds=60 * DAYS)
    total = await board("resolutions", this_month)
    assert dict((a, s) for _, a, s in ranking(total))["eve"] == 1

    async def send_late() -> pb.GetLeaderboardResponse:
        await produce(
            infra.bootstrap,
            topics.topic("activity"),
            [interaction("acme", "eve", resolved=True, occurred_at=late_evening)],
        )
        await caught_up(settings)
        return await board("resolutions", this_month)

    # Sent until the lateness is known to be back (an event counts on the all-time board).
    await eventually(send_late, lambda r: dict((a, s) for _, a, s in ranking(r))["eve"] > 1)
    after = await board("resolutions-month", this_month - timedelta(days=1))
    assert ranking(after) == standings
    assert len(await announced()) == 5  # announced once
