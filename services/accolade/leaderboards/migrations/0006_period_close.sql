-- Every period of a tenant's board that has scores, and when it ends (in the board's
-- time zone). It closes once the tenant's lateness has passed since: the scores
-- consumer writes a period's scores only while its row here is open (in the same
-- statement, so a close waits for a batch writing to it, and a batch after a close
-- writes nothing to it); the closer freezes due periods and announces their top agents
-- (period_closed).
CREATE TABLE board_periods (
    tenant_id  text        NOT NULL,
    board_id   text        NOT NULL,
    version    int         NOT NULL,
    period     date        NOT NULL,
    ends_at    timestamptz,  -- NULL: never (all_time)
    closed_at  timestamptz,
    PRIMARY KEY (tenant_id, board_id, version, period)
);
CREATE INDEX board_periods_ended ON board_periods (ends_at) WHERE closed_at IS NULL;
