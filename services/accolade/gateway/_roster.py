"""The roster: agents' entries, stored and published to the compacted roster topic."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import asyncpg

from accolade.rules import calendar
from accolade.runtime import db, outbox
from accolade.runtime.service import Context
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import envelope_pb2, events_pb2, gateway_service_pb2

MAX_AGENTS = 1000
MAX_NAME = 200
MAX_SKILLS = 50
# Roster event ids derive from (tenant, agent, version): a replay emits the same ids.
_NAMESPACE = uuid.UUID("5d0e4c1a-7b29-4e0f-8a63-2f4b9c1e7d04")


def validate(tenant_id: str, agents: Sequence[gateway_service_pb2.AgentProfile]) -> None:
    """Checks a batch of roster entries; a bad batch is refused whole.

    Raises:
        InvalidArgument: one violation per bad field, such as "agents[2].display_name".
    """
    v = Violations()
    v.identifier("tenant_id", tenant_id)
    if not agents:
        v.add("agents", "must hold at least one agent")
    elif len(agents) > MAX_AGENTS:
        v.add("agents", f"must hold at most {MAX_AGENTS} agents, not {len(agents)}")
    v.check()
    seen: set[str] = set()
    for i, a in enumerate(agents):
        v.identifier(f"agents[{i}].agent_id", a.agent_id)
        if a.agent_id in seen:
            v.add(f"agents[{i}].agent_id", f"{a.agent_id!r} appears more than once")
        seen.add(a.agent_id)
        if not a.display_name.strip():
            v.add(f"agents[{i}].display_name", "is required")
        elif len(a.display_name) > MAX_NAME:
            v.add(f"agents[{i}].display_name", f"must be at most {MAX_NAME} characters")
        for name in ("team_id", "site_id", "region_id", "manager_id"):
            if value := getattr(a, name):
                v.identifier(f"agents[{i}].{name}", value)
        if a.time_zone:
            try:
                calendar.zone(a.time_zone)
            except ValueError as exc:
                v.add(f"agents[{i}].time_zone", str(exc))
        if a.hire_date:
            try:
                date.fromisoformat(a.hire_date)
            except ValueError:
                v.add(
                    f"agents[{i}].hire_date",
                    f"must be a day as YYYY-MM-DD, not {a.hire_date[:32]!r}",
                )
        if len(a.skills) > MAX_SKILLS:
            v.add(f"agents[{i}].skills", f"must hold at most {MAX_SKILLS} skills")
        for k, skill in enumerate(a.skills):
            v.identifier(f"agents[{i}].skills[{k}]", skill)
    v.check()


async def upsert(
    pool: asyncpg.Pool,
    topic: str,
    tenant_id: str,
    agents: Sequence[gateway_service_pb2.AgentProfile],
) -> gateway_service_pb2.UpsertAgentsResponse:
    """Stores the entries that are new or changed and publishes each such entry once."""
    validate(tenant_id, agents)
    now = utcnow()
    async with pool.acquire() as conn, conn.transaction():
        # An unchanged entry matches the WHERE of DO UPDATE nowhere, so it returns no row.
        rows = await conn.fetch(
            "INSERT INTO roster_agents AS r (tenant_id, agent_id, display_name, team_id, site_id, "
            "  region_id, time_zone, manager_id, hire_date, skills, updated_at) "
            "SELECT $1, a, n, t, s, g, z, m, h, string_to_array(k, ' '), $11 "
            "FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
            "  $8::text[], $9::text[], $10::text[]) AS x(a, n, t, s, g, z, m, h, k) "
            "ON CONFLICT (tenant_id, agent_id) DO UPDATE SET display_name = EXCLUDED.display_name, "
            "  team_id = EXCLUDED.team_id, site_id = EXCLUDED.site_id, "
            "  region_id = EXCLUDED.region_id, time_zone = EXCLUDED.time_zone, "
            "  manager_id = EXCLUDED.manager_id, hire_date = EXCLUDED.hire_date, "
            "  skills = EXCLUDED.skills, version = r.version + 1, updated_at = EXCLUDED.updated_at "
            "WHERE (r.display_name, r.team_id, r.site_id, r.region_id, r.time_zone, r.manager_id, "
            "  r.hire_date, r.skills) IS DISTINCT FROM (EXCLUDED.display_name, EXCLUDED.team_id, "
            "  EXCLUDED.site_id, EXCLUDED.region_id, EXCLUDED.time_zone, EXCLUDED.manager_id, "
            "  EXCLUDED.hire_date, EXCLUDED.skills) "
            "RETURNING agent_id, display_name, team_id, site_id, region_id, time_zone, manager_id, "
            "  hire_date, skills, version",
            tenant_id,
            # Skills are identifiers, so a space joins them without ambiguity.
            *db.columns(
                [
                    (
                        *(a.agent_id, a.display_name.strip(), a.team_id, a.site_id, a.region_id),
                        *(a.time_zone, a.manager_id, a.hire_date, " ".join(a.skills)),
                    )
                    for a in agents
                ],
                9,
            ),
            now,
        )
        events = []
        for r in rows:
            e = envelope_pb2.Envelope(
                event_id=str(uuid.uuid5(_NAMESPACE, f"{tenant_id}/{r['agent_id']}/{r['version']}")),
                tenant_id=tenant_id,
                agent_id=r["agent_id"],
                agent_updated=events_pb2.AgentUpdated(
                    display_name=r["display_name"],
                    team_id=r["team_id"],
                    site_id=r["site_id"],
                    version=r["version"],
                    region_id=r["region_id"],
                    time_zone=r["time_zone"],
                    manager_id=r["manager_id"],
                    hire_date=r["hire_date"],
                    skills=r["skills"],
                ),
            )
            e.occurred_at.FromDatetime(now)
            e.recorded_at.FromDatetime(now)
            events.append(e)
        await outbox.add(conn, topic, events)
    created = sum(r["version"] == 1 for r in rows)
    return gateway_service_pb2.UpsertAgentsResponse(
        created=created, updated=len(rows) - created, unchanged=len(agents) - len(rows)
    )


async def team_of(ctx: Context, tenant_id: str, agent_id: str) -> str | None:
    """The agent's team, or None when the roster has no such agent."""
    team: str | None = await ctx.pool.fetchval(
        "SELECT team_id FROM roster_agents WHERE tenant_id = $1 AND agent_id = $2",
        tenant_id,
        agent_id,
    )
    return team


async def team_members(ctx: Context, tenant_id: str, team_id: str) -> list[str]:
    """The agents the roster has in the team."""
    rows = await ctx.pool.fetch(
        "SELECT agent_id FROM roster_agents WHERE tenant_id = $1 AND team_id = $2 AND team_id <> ''",
        tenant_id,
        team_id,
    )
    return [r[0] for r in rows]
