-- The roster grows up: region, time zone (IANA; '' means the tenant's), manager, hire date
-- (YYYY-MM-DD or '') and skills, all published on the roster topic with every change.
ALTER TABLE roster_agents
    ADD COLUMN region_id  text   NOT NULL DEFAULT '',
    ADD COLUMN time_zone  text   NOT NULL DEFAULT '',
    ADD COLUMN manager_id text   NOT NULL DEFAULT '',
    ADD COLUMN hire_date  text   NOT NULL DEFAULT '',
    ADD COLUMN skills     text[] NOT NULL DEFAULT '{}';
