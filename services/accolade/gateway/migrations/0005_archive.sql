-- Every event the services consume (activity, feedback and the roster), kept for
-- backfills and replays. Partitioned by the month the event happened in, so history
-- since a date reads only its months, and dropping a month is cheap. The consumer that
-- fills it creates each month's partition the first time the month appears.
CREATE TABLE event_archive (
    tenant_id   text        NOT NULL,
    -- The logical topic it was read from: activity, feedback or roster.
    topic       text        NOT NULL,
    event_id    uuid        NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now(),
    -- The accolade.v1.Envelope as published.
    envelope    bytea       NOT NULL,
    PRIMARY KEY (tenant_id, topic, event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);
-- Exports read one tenant's events in the order they were accepted.
CREATE INDEX event_archive_export ON event_archive (tenant_id, recorded_at, event_id);
