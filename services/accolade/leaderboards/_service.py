"""The leaderboards service: boards as data, scores from activity and feedback, ranks
from the rank index."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import date
from typing import Any

import grpc

from accolade.leaderboards import _boards, _close, _tally
from accolade.leaderboards._boards import BUILT_IN, Boards
from accolade.leaderboards._live import (
    BOARD_SCORES,
    PERIOD_SCORES,
    Board,
    LiveBoards,
    scope_of,
)
from accolade.leaderboards._rank import Entry, distribution
from accolade.rules import calendar
from accolade.rules.tenants import calendars
from accolade.runtime import roster
from accolade.runtime.auth import access
from accolade.runtime.errors import NotFound
from accolade.runtime.identity import AGENT, INTEGRATION, MANAGER
from accolade.runtime.inbox import Batch, BatchHandler
from accolade.runtime.service import ConsumerSpec, Context, ServiceDefinition
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import leaderboards_service_pb2 as pb
from accolade.v1 import leaderboards_service_pb2_grpc as pb_grpc
from accolade.v1.achievements_service_pb2 import ObjectMeta

BUILT_IN_BOARD = pb.LeaderboardDefinition(
    metadata=ObjectMeta(
        id=BUILT_IN,
        name="Resolutions today",
        description="Interactions resolved on first contact, per UTC day.",
    ),
    spec=pb.LeaderboardSpec(
        event="interaction_completed",
        when="event.resolved_first_contact",
        metric="count",
        direction="higher",
        period="day",
        time_zone="UTC",
    ),
    version=1,
)
MAX_LIMIT = 100
MAX_AROUND = 10
MAX_BUCKETS = 50
CLOSE_INTERVAL_SECONDS = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class _State:
    """What the servicer and the consumer of one process share."""

    boards: Boards
    built_in: LiveBoards
    tenants: LiveBoards


def _state(ctx: Context) -> _State:
    """The process's boards and rank indexes, which the servicer reads and the consumer
    feeds."""
    state = ctx.shared.get("leaderboards")
    if state is None:
        entries = ctx.metrics.gauge(
            "rank_index_entries",
            "Entries held in the rank indexes of the boards being read, by table.",
            ("table",),
        )
        writer = uuid.uuid4().hex
        state = ctx.shared["leaderboards"] = _State(
            Boards(),
            LiveBoards(ctx.pool, PERIOD_SCORES, entries, writer=writer),
            LiveBoards(ctx.pool, BOARD_SCORES, entries, writer=writer),
        )
        ctx.spawn(state.built_in.follow, "rank-index")
        ctx.spawn(state.tenants.follow, "board-index")
    return state


def _handler(ctx: Context) -> BatchHandler:
    """Adds a batch's events to every board with one upsert per table, and closes the
    periods whose time has come."""
    state = _state(ctx)
    cal_of = calendars(ctx)
    late = ctx.metrics.counter(
        "events_too_late",
        "Events that happened longer than the tenant's lateness ago: no board counts them.",
    )
    topic = ctx.topic("leaderboards")

    async def apply(batch: Batch) -> None:
        boards = await state.boards.of(batch.conn, {e.tenant_id for e in batch.events})
        batch.count(late, await _tally.apply(batch, boards, cal_of, state.built_in, state.tenants))

    async def close_periods() -> None:
        """Closes, every second, the board periods whose end and lateness have passed."""
        while True:
            async with ctx.pool.acquire() as conn:
                while await _close.close_some(conn, state.boards, cal_of, topic, utcnow()):
                    pass
            await asyncio.sleep(CLOSE_INTERVAL_SECONDS)

    ctx.spawn(close_periods, "close-periods")
    return apply


def _roster(ctx: Context) -> BatchHandler:
    """Keeps leaderboards' copy of the roster, with each agent's team, site and region."""
    return roster.handler(scoped=True)


class LeaderboardsServicer(pb_grpc.LeaderboardsServiceServicer):
    """Answers boards and agents' ranks from the rank index, and applies boards."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._state = _state(ctx)
        self._calendars = calendars(ctx)

    async def _board(self, v: Violations, request: Any) -> tuple[Board, date]:
        """The board period a request names (its `board_id`, `day` and `scope`), loaded."""
        v.identifier("tenant_id", request.tenant_id)
        tenant, board_id, scope = request.tenant_id, request.board_id or BUILT_IN, request.scope
        if scope_of(scope) is None:
            v.add(
                "scope",
                f'must be "" (the tenant), team:ID, site:ID or region:ID, not {scope!r}',
            )
        if board_id == BUILT_IN:
            day = v.day("day", request.day, today=utcnow().date())
            v.check()
            return await self._state.built_in.board((tenant, BUILT_IN, day, scope)), day
        v.check()
        held = await self._state.boards.for_query(self._ctx.pool, tenant)
        rule = held.read_at(board_id, utcnow()) if held else None
        if rule is None:
            known = [BUILT_IN, *(held.versions if held else ())]
            raise NotFound(f"board_id: no board {board_id!r}; boards: {', '.join(known)}")
        cal = self._calendars(tenant)
        zone = rule.zone or calendar.zone(cal.default_zone)
        day = v.day("day", request.day, today=calendar.local_day(utcnow(), zone))
        v.check()
        period = calendar.window_start(day, rule.period, cal.week_start)
        key = (tenant, board_id, rule.version, period, scope)
        return await self._state.tenants.board(key, rule), period

    async def GetLeaderboard(
        self, request: pb.GetLeaderboardRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLeaderboardResponse:
        v = Violations()
        if not 0 <= request.limit <= MAX_LIMIT:
            v.add("limit", f"must be between 1 and {MAX_LIMIT} (0 means 10), not {request.limit}")
        if request.offset < 0:
            v.add("offset", f"must not be negative, not {request.offset}")
        board, period = await self._board(v, request)
        return pb.GetLeaderboardResponse(
            board_id=request.board_id or BUILT_IN,
            period=period.isoformat(),
            entries=_entries(board.index.entries(request.offset, request.limit or 10), board),
            total_agents=len(board.index),
            not_eligible_agents=len(board.waiting),
        )

    async def GetAgentRank(
        self, request: pb.GetAgentRankRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAgentRankResponse:
        v = Violations()
        v.identifier("agent_id", request.agent_id)
        if not 0 <= request.around <= MAX_AROUND:
            v.add("around", f"must be between 0 and {MAX_AROUND}, not {request.around}")
        board, period = await self._board(v, request)
        index, agent = board.index, request.agent_id
        entry = index.rank(agent)
        return pb.GetAgentRankResponse(
            board_id=request.board_id or BUILT_IN,
            period=period.isoformat(),
            rank=entry.rank if entry else 0,
            score=entry.score if entry else 0,
            total_agents=len(index),
            percentile=index.percentile(agent) or 0.0,
            around=_entries(index.around(agent, request.around), board) if request.around else [],
            events_needed=board.waiting.get(agent, 0),
            explanation=_explanation(board, agent) if entry else [],
        )

    async def GetLeaderboardBottom(
        self, request: pb.GetLeaderboardBottomRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLeaderboardBottomResponse:
        v = Violations()
        if not 0 <= request.limit <= MAX_LIMIT:
            v.add("limit", f"must be between 1 and {MAX_LIMIT} (0 means 10), not {request.limit}")
        board, period = await self._board(v, request)
        return pb.GetLeaderboardBottomResponse(
            board_id=request.board_id or BUILT_IN,
            period=period.isoformat(),
            entries=_entries(board.index.bottom(request.limit or 10), board),
            total_agents=len(board.index),
        )

    async def GetScoreDistribution(
        self, request: pb.GetScoreDistributionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetScoreDistributionResponse:
        v = Violations()
        if not 0 <= request.buckets <= MAX_BUCKETS:
            v.add(
                "buckets",
                f"must be between 1 and {MAX_BUCKETS} (0 means 10), not {request.buckets}",
            )
        board, period = await self._board(v, request)
        reply = pb.GetScoreDistributionResponse(
            board_id=request.board_id or BUILT_IN,
            period=period.isoformat(),
            total_agents=len(board.index),
        )
        spread = distribution(board.index, request.buckets or 10)
        if spread is not None:
            reply.min_score, reply.max_score, reply.median_score = (
                spread.low,
                spread.high,
                spread.median,
            )
            reply.buckets.extend(
                pb.ScoreBucket(lower=lo, upper=hi, agents=n) for lo, hi, n in spread.buckets
            )
        return reply

    async def ApplyBoards(
        self, request: pb.ApplyBoardsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ApplyBoardsResponse:
        reply = await _boards.apply(self._ctx.pool, request, utcnow())
        self._state.boards.changed(request.tenant_id)
        return reply

    async def ListBoards(
        self, request: pb.ListBoardsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBoardsResponse:
        v = Violations()
        v.identifier("tenant_id", request.tenant_id)
        v.check()
        held = await _boards.latest(self._ctx.pool, request.tenant_id)
        return pb.ListBoardsResponse(
            boards=[BUILT_IN_BOARD, *held.boards], scorecards=held.scorecards
        )


def _entries(entries: list[Entry], board: Board) -> list[pb.LeaderboardEntry]:
    return [
        pb.LeaderboardEntry(
            rank=e.rank,
            agent_id=e.agent_id,
            score=e.score,
            explanation=_explanation(board, e.agent_id),
        )
        for e in entries
    ]


def _explanation(board: Board, agent: str) -> list[pb.MetricScore]:
    """How a scorecard's score of `agent` adds up (empty for a leaderboard)."""
    return [
        pb.MetricScore(
            metric_id=x.part.id,
            name=x.part.name,
            value=x.value,
            events=x.events,
            zone=x.zone,
            points=x.points,
            weight=x.weight,
            contribution=x.contribution,
        )
        for x in board.explain(agent)
    ]


async def _build(ctx: Context) -> LeaderboardsServicer:
    return LeaderboardsServicer(ctx)


SERVICE = ServiceDefinition(
    name="leaderboards",
    grpc_service="accolade.v1.LeaderboardsService",
    package="accolade.leaderboards",
    servicer=_build,
    register=pb_grpc.add_LeaderboardsServiceServicer_to_server,
    consumers=(
        ConsumerSpec("scores", ("activity", "feedback"), _handler),
        ConsumerSpec("roster", ("roster",), _roster),
    ),
    access={
        # A board is public within the tenant; an agent's rank is theirs and their
        # manager's. Boards are published rules, which admin keys alone apply.
        "GetLeaderboard": access(AGENT, MANAGER, INTEGRATION),
        "GetAgentRank": access(AGENT, MANAGER, agent="agent_id"),
        "ListBoards": access(AGENT, MANAGER, INTEGRATION),
        "ApplyBoards": access(),
        # The bottom of a board is for coaching: managers (and admins) only.
        "GetLeaderboardBottom": access(MANAGER),
        "GetScoreDistribution": access(AGENT, MANAGER, INTEGRATION),
    },
    team_of=roster.team_of,
)
