"""The roster: agents' entries, stored and published to the compacted roster topic."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from accolade.runtime import outbox
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import envelope_pb2, events_pb2, gateway_service_pb2

MAX_AGENTS = 1000
MAX_NAME = 200
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
        if a.team_id:
            v.identifier(f"agents[{i}].team_id", a.team_id)
        if a.site_id:
            v.identifier(f"agents[{i}].site_id", a.site_id)
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
            "INSERT INTO roster_agents AS r (tenant_id, agent_id, display_name, team_id, site_id, updated_at) "
            "SELECT $1, a, n, t, s, $6 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS x(a, n, t, s) "
            "ON CONFLICT (tenant_id, agent_id) DO UPDATE SET display_name = EXCLUDED.display_name, "
            "  team_id = EXCLUDED.team_id, site_id = EXCLUDED.site_id, version = r.version + 1, "
            "  updated_at = EXCLUDED.updated_at "
            "WHERE (r.display_name, r.team_id, r.site_id) "
            "  IS DISTINCT FROM (EXCLUDED.display_name, EXCLUDED.team_id, EXCLUDED.site_id) "
            "RETURNING agent_id, display_name, team_id, site_id, version",
            tenant_id,
            [a.agent_id for a in agents],
            [a.display_name.strip() for a in agents],
            [a.team_id for a in agents],
            [a.site_id for a in agents],
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
