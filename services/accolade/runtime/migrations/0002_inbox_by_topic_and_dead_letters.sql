-- The inbox is keyed by topic too: an event on one topic is never taken for a copy of an
-- event on another topic that carries the same id (a survey reusing an interaction's
-- UUID, say). Rows recorded before this have no topic (''); each service's own migration
-- assigns them to the topics its consumers read.
-- The event id leads the key: random UUIDs settle most comparisons at the first column,
-- which makes the insert of every applied event about half as costly as text first.
ALTER TABLE applied_events ADD COLUMN topic text NOT NULL DEFAULT '';
ALTER TABLE applied_events DROP CONSTRAINT applied_events_pkey;
ALTER TABLE applied_events ADD PRIMARY KEY (event_id, tenant_id, topic, consumer);
ALTER TABLE applied_events ALTER COLUMN topic DROP DEFAULT;
-- The retention purge finds old rows by time. Rows arrive in time order, so a BRIN index
-- (a few bytes per range of pages, next to nothing to maintain) is enough.
CREATE INDEX applied_events_applied_at ON applied_events USING brin (applied_at)
    WITH (autosummarize = on);
-- The same for published outbox rows: BRIN instead of a B-tree on published_at.
DROP INDEX outbox_published_at;
CREATE INDEX outbox_published_at ON outbox USING brin (published_at) WITH (autosummarize = on);

-- Dead letters go out through the outbox, in the transaction that rejected them, with
-- their headers; a letter keeps the original key and value, either of which may be absent.
ALTER TABLE outbox ADD COLUMN headers jsonb;
ALTER TABLE outbox ALTER COLUMN key DROP NOT NULL;
ALTER TABLE outbox ALTER COLUMN payload DROP NOT NULL;

-- Messages a consumer could never apply, kept here (durable, unlike the broker) so they
-- can be listed and replayed once their cause is fixed. A rejected event is not recorded
-- in applied_events, so a replay applies it through the inbox like any other event.
CREATE TABLE dead_letters (
    id                  bigserial   PRIMARY KEY,
    consumer            text        NOT NULL,
    -- Stable for a message: derived from (consumer, topic, tenant, event id), or from the
    -- bytes when they do not decode, so a redelivered message is dead-lettered once.
    letter_id           uuid        NOT NULL,
    -- The logical topic, such as "activity", and the full name the message came from.
    topic               text        NOT NULL,
    source_topic        text        NOT NULL,
    source_partition    integer     NOT NULL,
    source_offset       bigint      NOT NULL,
    key                 bytea,
    value               bytea,
    tenant_id           text,
    agent_id            text,
    event_id            uuid,
    kind                text        NOT NULL,
    reason              text        NOT NULL,
    dead_lettered_at    timestamptz NOT NULL DEFAULT now(),
    -- Set by `accolade dead-letters replay`; cleared when the consumer has replayed it.
    replay_requested_at timestamptz,
    replayed_at         timestamptz,
    -- applied, duplicate (applied before) or failed (the reason is updated).
    replay_outcome      text,
    attempts            integer     NOT NULL DEFAULT 1,
    UNIQUE (consumer, letter_id)
);
CREATE INDEX dead_letters_listing ON dead_letters (consumer, dead_lettered_at);
CREATE INDEX dead_letters_replay ON dead_letters (consumer, id) WHERE replay_requested_at IS NOT NULL;
