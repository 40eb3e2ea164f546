-- Badges agents hold, each with the explanation of why it was awarded.
CREATE TABLE agent_badges (
    tenant_id         text        NOT NULL,
    agent_id          text        NOT NULL,
    badge_id          text        NOT NULL,
    rule_version      integer     NOT NULL,
    awarded_at        timestamptz NOT NULL DEFAULT now(),
    -- When the triggering event happened, as the source saw it.
    earned_at         timestamptz NOT NULL,
    time_window       text        NOT NULL,
    value             double precision NOT NULL,
    threshold         double precision NOT NULL,
    trigger_event_ids uuid[]      NOT NULL,
    award_event_id    uuid        NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, badge_id)
);
