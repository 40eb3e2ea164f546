-- Programs as data: each tenant's badge definitions and level table, versioned, and the
-- state the rules engine keeps per agent. Badges written in code are gone; the awards
-- they made stay, as the single tier "earned" of the starter program's same badges.

-- Every version of every badge definition; the latest by effective_at is in force.
CREATE TABLE badge_definitions (
    tenant_id    text        NOT NULL,
    badge_id     text        NOT NULL,
    version      integer     NOT NULL,
    effective_at timestamptz NOT NULL,
    archived     boolean     NOT NULL DEFAULT false,
    -- The accolade.v1.BadgeDefinition as applied (metadata and spec).
    definition   bytea       NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, badge_id, version)
);

CREATE TABLE level_tables (
    tenant_id    text        NOT NULL,
    version      integer     NOT NULL,
    effective_at timestamptz NOT NULL,
    -- The accolade.v1.LevelTable as applied.
    definition   bytea       NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, version)
);

-- Bumped by every apply: consumers compare it to reload a tenant's program only when
-- it changed, with one small read per batch.
CREATE TABLE program_revisions (
    tenant_id text   PRIMARY KEY,
    revision  bigint NOT NULL
);

-- The roster as achievements knows it: each agent's latest accolade.v1.AgentUpdated,
-- for time zones and the `agent` of conditions.
CREATE TABLE agents (
    tenant_id  text        NOT NULL,
    agent_id   text        NOT NULL,
    version    integer     NOT NULL,
    entry      bytea       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, agent_id)
);

-- What each badge's events add up to for one agent in one window (window_start is the
-- local day the window starts on; 1970-01-01 for all time and rolling windows).
CREATE TABLE badge_windows (
    tenant_id    text             NOT NULL,
    agent_id     text             NOT NULL,
    badge_id     text             NOT NULL,
    window_start date             NOT NULL,
    n            bigint           NOT NULL,
    total        double precision NOT NULL,
    lo           double precision NOT NULL,
    hi           double precision NOT NULL,
    first_at     timestamptz      NOT NULL,
    first_id     uuid             NOT NULL,
    last_at      timestamptz      NOT NULL,
    last_id      uuid             NOT NULL,
    time_zone    text             NOT NULL,
    -- For avg and min, decided once the window has ended and the lateness passed.
    closes_at    timestamptz,
    closed       boolean          NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, agent_id, badge_id, window_start)
-- Every counted event updates its rows in place: room on each page keeps the updates
-- HOT (no index entry written), since no indexed column changes.
) WITH (fillfactor = 80);
-- Only windows decided at close are in it, until they are.
CREATE INDEX badge_windows_closing ON badge_windows (closes_at)
    WHERE closes_at IS NOT NULL AND NOT closed;

-- Per local day (or week, for weekly streaks) within a window, for distinct days,
-- streaks and rolling windows.
CREATE TABLE badge_buckets (
    tenant_id    text             NOT NULL,
    agent_id     text             NOT NULL,
    badge_id     text             NOT NULL,
    window_start date             NOT NULL,
    bucket       date             NOT NULL,
    n            bigint           NOT NULL,
    total        double precision NOT NULL,
    lo           double precision NOT NULL,
    hi           double precision NOT NULL,
    first_at     timestamptz      NOT NULL,
    first_id     uuid             NOT NULL,
    last_at      timestamptz      NOT NULL,
    last_id      uuid             NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, badge_id, window_start, bucket)
) WITH (fillfactor = 80);

-- Awards are per tier, and per window for badges earned again in every window.
ALTER TABLE agent_badges
    ADD COLUMN tier_id      text   NOT NULL DEFAULT 'earned',
    ADD COLUMN award_window date   NOT NULL DEFAULT '1970-01-01',
    ADD COLUMN xp           bigint NOT NULL DEFAULT 0,
    ADD COLUMN window_from  timestamptz,
    ADD COLUMN window_until timestamptz,
    ADD COLUMN event_count  bigint NOT NULL DEFAULT 1,
    ADD COLUMN name         text   NOT NULL DEFAULT '',
    ADD COLUMN description  text   NOT NULL DEFAULT '';
UPDATE agent_badges SET name = CASE badge_id
    WHEN 'first-resolution' THEN 'First Resolution' WHEN 'five-stars' THEN 'Five Stars'
    ELSE badge_id END;
ALTER TABLE agent_badges DROP CONSTRAINT agent_badges_pkey,
    ADD PRIMARY KEY (tenant_id, agent_id, badge_id, tier_id, award_window);
ALTER TABLE agent_badges ALTER COLUMN tier_id DROP DEFAULT,
    ALTER COLUMN award_window DROP DEFAULT, ALTER COLUMN xp DROP DEFAULT,
    ALTER COLUMN event_count DROP DEFAULT, ALTER COLUMN name DROP DEFAULT,
    ALTER COLUMN description DROP DEFAULT;

-- Each agent's experience points and level.
CREATE TABLE agent_levels (
    tenant_id text    NOT NULL,
    agent_id  text    NOT NULL,
    xp        bigint  NOT NULL,
    level     integer NOT NULL,
    PRIMARY KEY (tenant_id, agent_id)
);

-- Events that arrived after their tenant's lateness: recorded, explained, not counted.
CREATE TABLE late_events (
    tenant_id   text        NOT NULL,
    event_id    uuid        NOT NULL,
    agent_id    text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
