-- Each tenant's secret for signing agent session tokens (HMAC-SHA256), 256 random bits
-- (gen_random_uuid draws from a strong random source). Published with the tenant on the
-- identity topic, so every service checks session tokens without a lookup.
ALTER TABLE tenants
    ADD COLUMN session_secret bytea NOT NULL
    DEFAULT sha256((gen_random_uuid()::text || gen_random_uuid()::text)::bytea);
