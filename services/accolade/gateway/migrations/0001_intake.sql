-- Every event intake accepted, keyed for idempotency on (tenant, event id).
CREATE TABLE intake_events (
    tenant_id   text        NOT NULL,
    event_id    uuid        NOT NULL,
    agent_id    text        NOT NULL,
    -- SHA-256 of the envelope as sent, to tell a resend from a different event reusing the id.
    fingerprint bytea       NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
