-- Per-period scores: one row per (board, period, agent).
CREATE TABLE period_scores (
    tenant_id  text   NOT NULL,
    board_id   text   NOT NULL,
    period     date   NOT NULL,
    agent_id   text   NOT NULL,
    score      double precision NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, board_id, period, agent_id)
);
-- The rank index: the top of a board, and counting who is ahead of an agent.
CREATE INDEX period_scores_rank ON period_scores (tenant_id, board_id, period, score DESC, agent_id);
