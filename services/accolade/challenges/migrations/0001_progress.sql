-- Each agent's progress in each challenge period.
CREATE TABLE challenge_progress (
    tenant_id         text        NOT NULL,
    challenge_id      text        NOT NULL,
    period            date        NOT NULL,
    agent_id          text        NOT NULL,
    progress          bigint      NOT NULL,
    target            bigint      NOT NULL,
    -- The events that counted, in order, so a completion explains itself.
    event_ids         uuid[]      NOT NULL,
    completed_at      timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, challenge_id, period, agent_id)
);
