"""The leaderboards service: per-day scores from activity, ranks on request."""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from datetime import date

import grpc

from accolade.leaderboards._live import LiveBoards
from accolade.leaderboards._rank import Entry
from accolade.runtime import db
from accolade.runtime.auth import access
from accolade.runtime.conditions import RESOLVED_FIRST_CONTACT, FieldEquals, day_of
from accolade.runtime.errors import NotFound
from accolade.runtime.identity import AGENT, INTEGRATION, MANAGER
from accolade.runtime.inbox import Batch, BatchHandler
from accolade.runtime.service import ConsumerSpec, Context, ServiceDefinition
from accolade.runtime.validation import Violations, utcnow
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
MAX_AROUND = 10


def _live(ctx: Context) -> LiveBoards:
    """The process's rank indexes, which the servicer reads and the consumer feeds."""
    live = ctx.shared.get("boards")
    if live is None:
        live = ctx.shared["boards"] = LiveBoards(ctx.pool, ctx.metrics)
        ctx.spawn(live.follow, "rank-index")
    return live


def _handler(ctx: Context) -> BatchHandler:
    """Adds a batch's points to each agent's period score with one upsert."""
    live = _live(ctx)

    async def apply(batch: Batch) -> None:
        points: Counter[tuple[str, str, date, str]] = Counter()
        for e in batch.events:
            for board in BOARDS.values():
                if board.counts.matches(e):
                    points[(e.tenant_id, board.board_id, day_of(e), e.agent_id)] += 1
        if not points:
            return
        written = await batch.conn.fetch(
            "INSERT INTO period_scores AS s (tenant_id, board_id, period, agent_id, score, "
            "  written_by) "
            "SELECT *, $6 FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], "
            "  $5::float8[]) "
            "ON CONFLICT (tenant_id, board_id, period, agent_id) "
            "DO UPDATE SET score = s.score + EXCLUDED.score, updated_at = now(), "
            "  written_by = EXCLUDED.written_by "
            "RETURNING tenant_id, board_id, period, agent_id, score",
            *db.columns([(*key, float(n)) for key, n in points.items()], 5),
            live.writer,
        )
        # Ranked at once by this process; other replicas read them within a second.
        batch.after_commit(functools.partial(live.written, [tuple(r) for r in written]))

    return apply


class LeaderboardsServicer(pb_grpc.LeaderboardsServiceServicer):
    """Answers the top of a board and an agent's rank, from the rank index."""

    def __init__(self, ctx: Context) -> None:
        self._live = _live(ctx)

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
        if request.offset < 0:
            v.add("offset", f"must not be negative, not {request.offset}")
        v.check()
        board_id = self._board(v, "board_id", request.board_id)
        index = await self._live.index((request.tenant_id, board_id, day))
        return pb.GetLeaderboardResponse(
            board_id=board_id,
            period=day.isoformat(),
            entries=_entries(index.entries(request.offset, request.limit or 10)),
            total_agents=len(index),
        )

    async def GetAgentRank(
        self, request: pb.GetAgentRankRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAgentRankResponse:
        v = Violations()
        v.identifier("tenant_id", request.tenant_id)
        v.identifier("agent_id", request.agent_id)
        day = v.day("day", request.day, today=utcnow().date())
        if not 0 <= request.around <= MAX_AROUND:
            v.add("around", f"must be between 0 and {MAX_AROUND}, not {request.around}")
        v.check()
        board_id = self._board(v, "board_id", request.board_id)
        index = await self._live.index((request.tenant_id, board_id, day))
        entry = index.rank(request.agent_id)
        return pb.GetAgentRankResponse(
            board_id=board_id,
            period=day.isoformat(),
            rank=entry.rank if entry else 0,
            score=entry.score if entry else 0,
            total_agents=len(index),
            percentile=index.percentile(request.agent_id) or 0.0,
            around=_entries(index.around(request.agent_id, request.around))
            if request.around
            else [],
        )


def _entries(entries: list[Entry]) -> list[pb.LeaderboardEntry]:
    return [pb.LeaderboardEntry(rank=e.rank, agent_id=e.agent_id, score=e.score) for e in entries]


async def _build(ctx: Context) -> LeaderboardsServicer:
    return LeaderboardsServicer(ctx)


SERVICE = ServiceDefinition(
    name="leaderboards",
    grpc_service="accolade.v1.LeaderboardsService",
    package="accolade.leaderboards",
    servicer=_build,
    register=pb_grpc.add_LeaderboardsServiceServicer_to_server,
    consumers=(ConsumerSpec("scores", ("activity",), _handler),),
    access={
        # A board is public within the tenant; an agent's rank is theirs (and a manager's,
        # once leaderboards keep the roster to check teams).
        "GetLeaderboard": access(AGENT, MANAGER, INTEGRATION),
        "GetAgentRank": access(AGENT, agent="agent_id"),
    },
)
