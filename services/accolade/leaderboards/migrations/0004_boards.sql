-- A tenant's boards, as applied: every version of each (kind: Leaderboard documents).
CREATE TABLE board_definitions (
    tenant_id    text        NOT NULL,
    board_id     text        NOT NULL,
    version      int         NOT NULL,
    effective_at timestamptz NOT NULL,
    definition   bytea       NOT NULL,  -- LeaderboardDefinition: metadata and spec
    PRIMARY KEY (tenant_id, board_id, version)
);
-- Bumped by every apply that changes a tenant's boards, so consumers reload them.
CREATE TABLE board_revisions (
    tenant_id text   PRIMARY KEY,
    revision  bigint NOT NULL
);
-- Per (board version, period, agent): the matching events' count and their field's total,
-- from which the board's metric (count, sum or avg) and eligibility follow.
CREATE TABLE board_scores (
    tenant_id  text             NOT NULL,
    board_id   text             NOT NULL,
    version    int              NOT NULL,
    period     date             NOT NULL,
    agent_id   text             NOT NULL,
    n          bigint           NOT NULL,
    total      double precision NOT NULL,
    updated_at timestamptz      NOT NULL DEFAULT now(),
    written_by text             NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, board_id, version, period, agent_id)
);
CREATE INDEX board_scores_changed ON board_scores (updated_at);
