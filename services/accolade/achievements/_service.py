"""The achievements service: each tenant's badge program, the badges agents earn, and why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC

import asyncpg
import grpc

from accolade.achievements import _programs, _replay
from accolade.achievements._awards import badges_handler, roster_handler
from accolade.achievements._progress import progress
from accolade.rules import calendar
from accolade.rules.tenants import calendars
from accolade.runtime import roster
from accolade.runtime.auth import access
from accolade.runtime.errors import NotFound
from accolade.runtime.identity import AGENT, INTEGRATION, MANAGER
from accolade.runtime.server import migrations_for
from accolade.runtime.service import ConsumerSpec, Context, ServiceDefinition
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import achievements_service_pb2_grpc as pb_grpc
from accolade.v1 import events_pb2


def _definition(r: asyncpg.Record) -> pb.BadgeDefinition:
    d = pb.BadgeDefinition.FromString(r["definition"])
    d.version = r["version"]
    d.archived = r["archived"]
    d.effective_at.FromDatetime(r["effective_at"])
    if r["counts_from"] is not None:
        d.counts_from.FromDatetime(r["counts_from"])
    return d


def _names(v: Violations, tenant_id: str, agent_id: str | None = None) -> None:
    v.identifier("tenant_id", tenant_id)
    if agent_id is not None:
        v.identifier("agent_id", agent_id)
    v.check()


_AWARD = (
    "badge_id, tier_id, name, description, xp, rule_version, awarded_at, time_window, value, "
    "threshold, window_from, window_until, event_count, trigger_event_ids::text[] AS triggers"
)


def _badge(r: asyncpg.Record) -> pb.AgentBadge:
    explanation = events_pb2.Explanation(
        rule_id=r["badge_id"],
        rule_version=r["rule_version"],
        window=r["time_window"],
        value=r["value"],
        threshold=r["threshold"],
        trigger_event_ids=r["triggers"],
        tier_id=r["tier_id"],
        event_count=r["event_count"],
    )
    if r["window_from"] is not None:
        explanation.window_start.FromDatetime(r["window_from"])
        explanation.window_end.FromDatetime(r["window_until"])
    badge = pb.AgentBadge(
        badge_id=r["badge_id"],
        name=r["name"],
        description=r["description"],
        explanation=explanation,
        tier_id=r["tier_id"],
        xp=r["xp"],
    )
    badge.awarded_at.FromDatetime(r["awarded_at"])
    return badge


def _summary(b: pb.AgentBadge, d: pb.BadgeDefinition, zone: str) -> str:
    """An award's explanation, in words."""
    x = b.explanation
    what = {
        "count": "events that counted",
        "sum": f"total {d.spec.field}",
        "avg": f"average {d.spec.field}",
        "min": f"lowest {d.spec.field}",
        "max": f"highest {d.spec.field}",
        "distinct_days": "days that counted",
        "streak": "weeks in a row" if d.spec.unit == "week" else "days in a row",
    }[d.spec.aggregate or "count"]
    when = "all time"
    if x.HasField("window_start"):
        tz = calendar.zone(zone)
        start = x.window_start.ToDatetime(tzinfo=UTC).astimezone(tz)
        end = x.window_end.ToDatetime(tzinfo=UTC).astimezone(tz)
        when = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({zone})"
    return (
        f"{b.name} {b.tier_id}: {what} {x.value:g}, at least {x.threshold:g} needed, "
        f"over {when}; {x.event_count} events counted, the first {x.trigger_event_ids[0]} "
        f"and the last {x.trigger_event_ids[-1]}; by version {x.rule_version} of the badge."
    )


_LATEST = (
    "SELECT DISTINCT ON (badge_id) badge_id, version, effective_at, archived, definition, "
    "  counts_from "
    "FROM badge_definitions WHERE tenant_id = $1 AND ($2::text IS NULL OR badge_id = $2) "
    "ORDER BY badge_id, version DESC"
)


class AchievementsServicer(pb_grpc.AchievementsServiceServicer):
    """Runs programs and answers what agents have earned and what is left."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._calendars = calendars(ctx)
        self._programs = _programs.Programs(self._calendars)

    async def ListAgentBadges(
        self, request: pb.ListAgentBadgesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAgentBadgesResponse:
        _names(Violations(), request.tenant_id, request.agent_id)
        rows = await self._ctx.pool.fetch(
            f"SELECT {_AWARD} FROM agent_badges WHERE tenant_id = $1 AND agent_id = $2 "  # noqa: S608
            "ORDER BY awarded_at, badge_id, threshold",
            request.tenant_id,
            request.agent_id,
        )
        badges = [_badge(r) for r in rows]
        return pb.ListAgentBadgesResponse(badges=badges)

    async def ApplyProgram(
        self, request: pb.ApplyProgramRequest, context: grpc.aio.ServicerContext
    ) -> pb.ApplyProgramResponse:
        return await _programs.apply(self._ctx.pool, request, utcnow())

    async def ListBadgeDefinitions(
        self, request: pb.ListBadgeDefinitionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBadgeDefinitionsResponse:
        _names(Violations(), request.tenant_id)
        rows = await self._ctx.pool.fetch(_LATEST, request.tenant_id, None)
        return pb.ListBadgeDefinitionsResponse(
            badges=[_definition(r) for r in rows if request.include_archived or not r["archived"]]
        )

    async def GetBadgeDefinition(
        self, request: pb.GetBadgeDefinitionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBadgeDefinitionResponse:
        _names(Violations(), request.tenant_id)
        row = await self._ctx.pool.fetchrow(_LATEST, request.tenant_id, request.badge_id)
        if row is None:
            raise NotFound(f"no badge {request.badge_id!r}")
        return pb.GetBadgeDefinitionResponse(badge=_definition(row))

    async def ArchiveBadgeDefinition(
        self, request: pb.ArchiveBadgeDefinitionRequest, context: grpc.aio.ServicerContext
    ) -> pb.ArchiveBadgeDefinitionResponse:
        _names(Violations(), request.tenant_id)
        now = utcnow()
        async with self._ctx.pool.acquire() as conn, conn.transaction():
            await _programs.lock(conn, request.tenant_id)
            row = await conn.fetchrow(_LATEST, request.tenant_id, request.badge_id)
            if row is None:
                raise NotFound(f"no badge {request.badge_id!r}")
            if not row["archived"]:
                row = await conn.fetchrow(
                    "INSERT INTO badge_definitions (tenant_id, badge_id, version, effective_at, "
                    "  archived, definition) VALUES ($1, $2, $3, $4, true, $5) "
                    "RETURNING badge_id, version, effective_at, archived, definition, counts_from",
                    request.tenant_id,
                    request.badge_id,
                    row["version"] + 1,
                    max(now, row["effective_at"]),
                    row["definition"],
                )
                await _programs.bump(conn, request.tenant_id)
        return pb.ArchiveBadgeDefinitionResponse(badge=_definition(row))

    async def GetLevelTable(
        self, request: pb.GetLevelTableRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLevelTableResponse:
        _names(Violations(), request.tenant_id)
        row = await self._ctx.pool.fetchrow(
            "SELECT version, effective_at, definition FROM level_tables WHERE tenant_id = $1 "
            "ORDER BY version DESC LIMIT 1",
            request.tenant_id,
        )
        if row is None:
            raise NotFound("the tenant has no level table")
        table = pb.LevelTable.FromString(row["definition"])
        table.version = row["version"]
        table.effective_at.FromDatetime(row["effective_at"].astimezone(UTC))
        return pb.GetLevelTableResponse(level_table=table)

    async def ExplainAward(
        self, request: pb.ExplainAwardRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExplainAwardResponse:
        v = Violations()
        v.identifier("badge_id", request.badge_id)
        v.identifier("tier_id", request.tier_id)
        window = v.day("window", request.window, today=calendar.ALL_TIME)
        _names(v, request.tenant_id, request.agent_id)
        async with self._ctx.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {_AWARD} FROM agent_badges WHERE tenant_id = $1 AND agent_id = $2 "  # noqa: S608
                "AND badge_id = $3 AND tier_id = $4 AND award_window = $5",
                request.tenant_id,
                request.agent_id,
                request.badge_id,
                request.tier_id,
                window,
            )
            if row is None:
                raise NotFound(f"the agent holds no {request.badge_id} {request.tier_id}")
            version = await conn.fetchrow(
                "SELECT version, effective_at, archived, definition, counts_from "
                "FROM badge_definitions WHERE tenant_id = $1 AND badge_id = $2 AND version = $3",
                request.tenant_id,
                request.badge_id,
                row["rule_version"],
            )
            agent = (await roster.entries(conn, [(request.tenant_id, request.agent_id)])).get(
                (request.tenant_id, request.agent_id)
            )
        badge = _badge(row)
        definition = _definition(version)
        zone = (
            agent.time_zone
            if agent and agent.time_zone
            else self._calendars(request.tenant_id).default_zone
        )
        return pb.ExplainAwardResponse(
            badge=badge, definition=definition, summary=_summary(badge, definition, zone)
        )

    async def GetAgentProgress(
        self, request: pb.GetAgentProgressRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAgentProgressResponse:
        _names(Violations(), request.tenant_id, request.agent_id)
        async with (
            self._ctx.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            loaded = (await self._programs.of(conn, [request.tenant_id])).get(request.tenant_id)
            return await progress(conn, loaded, request.tenant_id, request.agent_id, utcnow())

    async def Replay(
        self, request_iterator: AsyncIterator[pb.ReplayRequest], context: grpc.aio.ServicerContext
    ) -> pb.ReplayResponse:
        return await _replay.replay(
            self._ctx.pool,
            self._ctx.settings.database_url,
            migrations_for(SERVICE),
            self._calendars,
            request_iterator,
        )

    async def Backfill(
        self,
        request_iterator: AsyncIterator[pb.BackfillRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.BackfillResponse:
        return await _replay.backfill(
            self._ctx.pool,
            self._calendars,
            self._ctx.topic("awards"),
            request_iterator,
        )


async def _build(ctx: Context) -> AchievementsServicer:
    return AchievementsServicer(ctx)


# Rules are published: every key of the tenant may read the definitions and level table.
_READERS = (AGENT, MANAGER, INTEGRATION)

SERVICE = ServiceDefinition(
    name="achievements",
    grpc_service="accolade.v1.AchievementsService",
    package="accolade.achievements",
    servicer=_build,
    register=pb_grpc.add_AchievementsServiceServicer_to_server,
    consumers=(
        # Leaderboards' period_closed events too: badges for a board's top agents.
        ConsumerSpec("badges", ("activity", "feedback", "leaderboards"), badges_handler),
        ConsumerSpec("roster", ("roster",), roster_handler),
    ),
    access={
        "ListAgentBadges": access(AGENT, MANAGER, agent="agent_id"),
        "GetAgentProgress": access(AGENT, MANAGER, agent="agent_id"),
        "ExplainAward": access(AGENT, MANAGER, agent="agent_id"),
        "ListBadgeDefinitions": access(*_READERS),
        "GetBadgeDefinition": access(*_READERS),
        "GetLevelTable": access(*_READERS),
        "ApplyProgram": access(),
        "ArchiveBadgeDefinition": access(),
        "Replay": access(),
        "Backfill": access(),
    },
    team_of=roster.team_of,
)
