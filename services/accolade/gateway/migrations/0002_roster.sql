-- The roster: every agent of a tenant as the workforce systems describe them.
CREATE TABLE roster_agents (
    tenant_id    text        NOT NULL,
    agent_id     text        NOT NULL,
    display_name text        NOT NULL,
    team_id      text        NOT NULL DEFAULT '',
    site_id      text        NOT NULL DEFAULT '',
    version      integer     NOT NULL DEFAULT 1,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, agent_id)
);
