-- The runtime's tables, created in every service's schema.

-- Events this service emits, written in the same transaction as the state change that
-- caused them. The relay publishes them in id order and keeps published rows for a
-- retention window, so it can publish them again if the broker loses its log.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    topic        text        NOT NULL,
    key          bytea       NOT NULL,
    event_id     uuid        NOT NULL,
    payload      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    kafka_partition integer,
    kafka_offset bigint
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Events a consumer has applied, recorded in the same transaction as their effect.
CREATE TABLE applied_events (
    consumer   text        NOT NULL,
    tenant_id  text        NOT NULL,
    event_id   uuid        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, tenant_id, event_id)
);
