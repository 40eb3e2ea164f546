-- Tenants and their API keys. A key's secret is never stored: only its SHA-256 (secrets are
-- 256 random bits, so a plain hash is as strong as a slow one). Every change is also
-- published on the compacted identity topic, from which every service authenticates.
CREATE TABLE tenants (
    tenant_id        text        PRIMARY KEY,
    display_name     text        NOT NULL,
    time_zone        text        NOT NULL,
    week_start       smallint    NOT NULL CHECK (week_start BETWEEN 1 AND 7),
    lateness_seconds bigint      NOT NULL CHECK (lateness_seconds >= 0),
    -- Rate limits per replica; 0 means the services' default.
    intake_per_second double precision NOT NULL DEFAULT 0 CHECK (intake_per_second >= 0),
    reads_per_second  double precision NOT NULL DEFAULT 0 CHECK (reads_per_second >= 0),
    version          integer     NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    key_id        text        PRIMARY KEY,
    tenant_id     text        NOT NULL REFERENCES tenants,
    role          smallint    NOT NULL,
    agent_id      text        NOT NULL DEFAULT '',
    team_id       text        NOT NULL DEFAULT '',
    label         text        NOT NULL DEFAULT '',
    secret_sha256 bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
