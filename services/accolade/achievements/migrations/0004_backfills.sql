-- Backfills. A new badge's history is counted from `counts_from` (before the version
-- came into force); events that happened in between count once, whether the backfill
-- or the live consumer sees them first: each claims the event here, and only the
-- claim that inserts the row counts it.
ALTER TABLE badge_definitions ADD COLUMN counts_from timestamptz;

CREATE TABLE early_events (
    tenant_id text        NOT NULL,
    badge_id  text        NOT NULL,
    version   integer     NOT NULL,
    event_id  uuid        NOT NULL,
    counted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, badge_id, version, event_id)
);
