-- The roster as leaderboards knows it: each agent's latest accolade.v1.AgentUpdated, for
-- the `agent` of conditions, scorecard weights by region or site, and boards by scope.
CREATE TABLE agents (
    tenant_id  text        NOT NULL,
    agent_id   text        NOT NULL,
    version    integer     NOT NULL,
    entry      bytea       NOT NULL,
    team_id    text        NOT NULL,
    site_id    text        NOT NULL,
    region_id  text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, agent_id)
);
CREATE INDEX agents_team ON agents (tenant_id, team_id);
CREATE INDEX agents_site ON agents (tenant_id, site_id);
CREATE INDEX agents_region ON agents (tenant_id, region_id);
-- Rank indexes of a scope follow agents moving in or out of it.
CREATE INDEX agents_changed ON agents (updated_at);

-- A scorecard is a board of several metrics: each row keeps every metric's count and
-- total, in the order of the version's metrics (a leaderboard has one).
ALTER TABLE board_scores
    ALTER COLUMN n TYPE bigint[] USING ARRAY[n],
    ALTER COLUMN total TYPE double precision[] USING ARRAY[total];

-- Which kind of document a definition is: Leaderboard or Scorecard.
ALTER TABLE board_definitions ADD COLUMN kind text NOT NULL DEFAULT 'Leaderboard';
