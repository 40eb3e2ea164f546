-- Tenants made before 0009 got a session secret in this table but were published on the
-- identity topic without it, so no service could check their sessions. The gateway
-- publishes each such tenant again at start (see _identity.publish_session_secrets);
-- tenants made from now on publish theirs when they are made.
ALTER TABLE tenants ADD COLUMN secret_published boolean NOT NULL DEFAULT false;
ALTER TABLE tenants ALTER COLUMN secret_published SET DEFAULT true;
