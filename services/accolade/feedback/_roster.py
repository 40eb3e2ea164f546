"""Feedback's copy of the roster, kept from the roster topic."""

from __future__ import annotations

from accolade.runtime import db
from accolade.runtime.inbox import Batch, BatchHandler
from accolade.runtime.service import Context


def roster_handler(ctx: Context) -> BatchHandler:
    """Keeps feedback's copy of the roster, for peer kudos and recognition to come."""

    async def apply(batch: Batch) -> None:
        # The newest version of each agent in the batch; versions only grow, so an older
        # entry arriving late (a replay, say) changes nothing.
        latest: dict[tuple[str, str], tuple[int, str, str, str]] = {}
        for e in batch.events:
            if e.WhichOneof("payload") != "agent_updated":
                continue  # other roster facts (teams, sites) are not feedback's concern yet
            a = e.agent_updated
            key = (e.tenant_id, e.agent_id)
            if key not in latest or latest[key][0] < a.version:
                latest[key] = (a.version, a.display_name, a.team_id, a.site_id)
        if not latest:
            return
        await batch.conn.execute(
            "INSERT INTO agents AS g (tenant_id, agent_id, version, display_name, team_id, site_id) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[]) "
            "ON CONFLICT (tenant_id, agent_id) DO UPDATE SET "
            "display_name = EXCLUDED.display_name, team_id = EXCLUDED.team_id, "
            "site_id = EXCLUDED.site_id, version = EXCLUDED.version, updated_at = now() "
            "WHERE g.version < EXCLUDED.version",
            *db.columns([(*key, *entry) for key, entry in latest.items()], 6),
        )

    return apply
