"""Feedback's copy of the roster, kept from the roster topic."""

from __future__ import annotations

from accolade.runtime import db
from accolade.runtime.inbox import Batch, BatchHandler
from accolade.runtime.roster import latest_entries
from accolade.runtime.service import Context


def roster_handler(ctx: Context) -> BatchHandler:
    """Keeps feedback's copy of the roster, for peer kudos and recognition to come."""

    async def apply(batch: Batch) -> None:
        latest = {
            key: (a.version, a.display_name, a.team_id, a.site_id)
            for key, a in latest_entries(batch.events).items()
        }
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
