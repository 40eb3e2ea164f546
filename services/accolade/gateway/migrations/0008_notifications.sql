-- What each agent's console is told, kept for a retention so a stream that reconnects
-- with the last sequence it saw gets what it missed, once and in order. Sequences are
-- per agent, dense, from 1; the row of notification_sequences is locked while a batch
-- numbers an agent's notifications, so they commit in sequence order.
CREATE TABLE notifications (
    tenant_id  text        NOT NULL,
    agent_id   text        NOT NULL,
    sequence   bigint      NOT NULL,
    event_id   uuid        NOT NULL,
    envelope   bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, agent_id, sequence)
);

CREATE INDEX notifications_created ON notifications USING brin (created_at);

CREATE TABLE notification_sequences (
    tenant_id text   NOT NULL,
    agent_id  text   NOT NULL,
    last      bigint NOT NULL,
    PRIMARY KEY (tenant_id, agent_id)
);
