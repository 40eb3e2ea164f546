-- The roster as feedback knows it from the roster topic: who can be rated and thanked.
CREATE TABLE agents (
    tenant_id    text        NOT NULL,
    agent_id     text        NOT NULL,
    display_name text        NOT NULL,
    team_id      text        NOT NULL,
    site_id      text        NOT NULL,
    version      integer     NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, agent_id)
);
