"""What every service that keeps a copy of the roster reads from the roster topic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import asyncpg

from accolade.runtime import db
from accolade.runtime.inbox import Batch, BatchHandler
from accolade.runtime.service import Context
from accolade.v1 import envelope_pb2, events_pb2

# The roster's places an agent can be ranked or counted in, as `agents` columns.
SCOPES = ("team", "site", "region")


def latest_entries(
    events: Iterable[envelope_pb2.Envelope],
) -> dict[tuple[str, str], events_pb2.AgentUpdated]:
    """The newest version of each (tenant, agent)'s roster entry among `events`.

    Versions only grow, so a copy that stores an entry only over an older version is
    never set back by an old entry arriving late (a replay, say).
    """
    latest: dict[tuple[str, str], events_pb2.AgentUpdated] = {}
    for e in events:
        if e.WhichOneof("payload") != "agent_updated":
            continue  # other roster facts (teams, sites) are not kept yet
        key = (e.tenant_id, e.agent_id)
        held = latest.get(key)
        if held is None or held.version < e.agent_updated.version:
            latest[key] = e.agent_updated
    return latest


async def entries(
    conn: asyncpg.Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], events_pb2.AgentUpdated]:
    """The roster entries of the (tenant, agent) pairs that have one, from the service's
    `agents` table."""
    rows = await conn.fetch(
        "SELECT g.tenant_id, g.agent_id, g.entry FROM agents g "
        "JOIN unnest($1::text[], $2::text[]) AS x(t, a) ON g.tenant_id = x.t AND g.agent_id = x.a",
        *db.columns(list(keys), 2),
    )
    return {(r[0], r[1]): events_pb2.AgentUpdated.FromString(r[2]) for r in rows}


async def keep(
    conn: asyncpg.Connection,
    latest: Mapping[tuple[str, str], events_pb2.AgentUpdated],
    *,
    scoped: bool = False,
) -> None:
    """Stores each roster entry over an older version of it.

    Args:
        scoped: the table also has the entry's team, site and region as columns
            (`team_id`, `site_id`, `region_id`), for queries by scope.
    """
    names = ["tenant_id", "agent_id", "version", "entry"]
    types = ["text", "int", "bytea"]
    if scoped:
        names += [f"{s}_id" for s in SCOPES]
        types += ["text"] * len(SCOPES)
    rows = [
        (t, a, e.version, e.SerializeToString(), *((e.team_id, e.site_id, e.region_id) * scoped))
        for (t, a), e in latest.items()
    ]
    params = ", ".join(f"${i}::{ty}[]" for i, ty in enumerate(["text", *types], 1))
    await conn.execute(
        f"INSERT INTO agents AS g ({', '.join(names)}) SELECT * FROM unnest({params}) "  # noqa: S608 - constant names
        f"ON CONFLICT (tenant_id, agent_id) DO UPDATE SET "
        f"{', '.join(f'{n} = EXCLUDED.{n}' for n in names[2:])}, updated_at = now() "
        "WHERE g.version < EXCLUDED.version",
        *db.columns(rows, len(names)),
    )


def handler(*, scoped: bool = False) -> BatchHandler:
    """A consumer of the roster topic that keeps the service's copy of it: each agent's
    latest entry (see `keep`)."""

    async def apply(batch: Batch) -> None:
        if latest := latest_entries(batch.events):
            await keep(batch.conn, latest, scoped=scoped)

    return apply


async def team_of(ctx: Context, tenant_id: str, agent_id: str) -> str | None:
    """An agent's team in the service's copy of the roster (None: not on it), for the
    runtime's check of manager keys."""
    async with ctx.pool.acquire() as conn:
        entry = (await entries(conn, [(tenant_id, agent_id)])).get((tenant_id, agent_id))
    return None if entry is None else entry.team_id
