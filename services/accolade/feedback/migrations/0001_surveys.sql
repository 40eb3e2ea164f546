-- Customer satisfaction surveys, one row per survey response.
CREATE TABLE surveys (
    tenant_id      text        NOT NULL,
    survey_id      uuid        NOT NULL,
    agent_id       text        NOT NULL,
    interaction_id text        NOT NULL,
    csat           smallint    NOT NULL CHECK (csat BETWEEN 1 AND 5),
    comment        text        NOT NULL DEFAULT '',
    submitted_at   timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, survey_id)
);
CREATE INDEX surveys_by_agent ON surveys (tenant_id, agent_id, submitted_at);
