"""The leaderboards service: per-day scores from activity, ranks on request."""

from __future__ import annotations

import dataclasses
from datetime import UTC

import asyncpg
import grpc

from accolade.runtime.conditions import RESOLVED_FIRST_CONTACT, FieldEquals
from accolade.runtime.consumer import Handler
from accolade.runtime.errors import NotFound
from accolade.runtime.service import ConsumerSpec, Context, ServiceDefinition
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import envelope_pb2
from accolade.v1 import leaderboards_service_pb2 as pb
from accolade.v1 import leaderboards_service_pb2_grpc as pb_grpc


@dataclasses.dataclass(frozen=True, slots=True)
class Board:
    """A board counting one kind of event per calendar day (UTC for now)."""

    board_id: str
    name: str
    counts: FieldEquals


DAILY_RESOLUTIONS = Board(
    board_id="daily-resolutions",
    name="Resolutions today",
    counts=RESOLVED_FIRST_CONTACT,
)
BOARDS = {b.board_id: b for b in (DAILY_RESOLUTIONS,)}
MAX_LIMIT = 100


def _handler(ctx: Context) -> Handler:
    async def apply(conn: asyncpg.Connection, envelope: envelope_pb2.Envelope) -> None:
        for board in BOARDS.values():
            if not board.counts.matches(envelope):
                continue
            day = envelope.occurred_at.ToDatetime(tzinfo=UTC).date()
            await conn.execute(
                "INSERT INTO period_scores (tenant_id, board_id, period, agent_id, score) "
                "VALUES ($1, $2, $3, $4, 1) ON CONFLICT (tenant_id, board_id, period, agent_id) "
                "DO UPDATE SET score = period_scores.score + 1, updated_at = now()",
                envelope.tenant_id,
                board.board_id,
                day,
                envelope.agent_id,
            )

    return apply


class LeaderboardsServicer(pb_grpc.LeaderboardsServiceServicer):
    """Answers the top of a board and an agent's rank."""

    def __init__(self, ctx: Context) -> None:
        self._pool = ctx.pool

    @staticmethod
    def _board(v: Violations, field: str, board_id: str) -> str:
        board_id = board_id or DAILY_RESOLUTIONS.board_id
        if board_id not in BOARDS:
            raise NotFound(f"{field}: no board {board_id!r}; boards: {', '.join(BOARDS)}")
        return board_id

    async def GetLeaderboard(
        self, request: pb.GetLeaderboardRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLeaderboardResponse:
        v = Violations()
        v.identifier("tenant_id", request.tenant_id)
        day = v.day("day", request.day, today=utcnow().date())
        if not 0 <= request.limit <= MAX_LIMIT:
            v.add("limit", f"must be between 1 and {MAX_LIMIT} (0 means 10), not {request.limit}")
        v.check()
        board_id = self._board(v, "board_id", request.board_id)
        rows = await self._pool.fetch(
            "SELECT agent_id, score, rank() OVER (ORDER BY score DESC) AS rank, count(*) OVER () AS total "
            "FROM period_scores WHERE tenant_id = $1 AND board_id = $2 AND period = $3 "
            'ORDER BY score DESC, agent_id COLLATE "C" LIMIT $4',
            request.tenant_id,
            board_id,
            day,
            request.limit or 10,
        )
        total = await self._pool.fetchval(
            "SELECT count(*) FROM period_scores WHERE tenant_id = $1 AND board_id = $2 AND period = $3",
            request.tenant_id,
            board_id,
            day,
        )
        return pb.GetLeaderboardResponse(
            board_id=board_id,
            period=day.isoformat(),
            entries=[
                pb.LeaderboardEntry(rank=r["rank"], agent_id=r["agent_id"], score=r["score"])
                for r in rows
            ],
            total_agents=total,
        )

    async def GetAgentRank(
        self, request: pb.GetAgentRankRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAgentRankResponse:
        v = Violations()
        v.identifier("tenant_id", request.tenant_id)
        v.identifier("agent_id", request.agent_id)
        day = v.day("day", request.day, today=utcnow().date())
        v.check()
        board_id = self._board(v, "board_id", request.board_id)
        row = await self._pool.fetchrow(
            "SELECT s.score, "
            "  (SELECT count(*) FROM period_scores o WHERE o.tenant_id = s.tenant_id AND o.board_id = s.board_id "
            "     AND o.period = s.period AND o.score > s.score) + 1 AS rank "
            "FROM period_scores s WHERE s.tenant_id = $1 AND s.board_id = $2 AND s.period = $3 AND s.agent_id = $4",
            request.tenant_id,
            board_id,
            day,
            request.agent_id,
        )
        total = await self._pool.fetchval(
            "SELECT count(*) FROM period_scores WHERE tenant_id = $1 AND board_id = $2 AND period = $3",
            request.tenant_id,
            board_id,
            day,
        )
        return pb.GetAgentRankResponse(
            board_id=board_id,
            period=day.isoformat(),
            rank=row["rank"] if row else 0,
            score=row["score"] if row else 0,
            total_agents=total,
        )


async def _build(ctx: Context) -> LeaderboardsServicer:
    return LeaderboardsServicer(ctx)


SERVICE = ServiceDefinition(
    name="leaderboards",
    grpc_service="accolade.v1.LeaderboardsService",
    package="accolade.leaderboards",
    servicer=_build,
    register=pb_grpc.add_LeaderboardsServiceServicer_to_server,
    consumers=(ConsumerSpec("scores", ("activity",), _handler),),
)
