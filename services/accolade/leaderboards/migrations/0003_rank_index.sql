-- Ranks are answered from an in-memory index now (leaderboards/_rank.py), so the table
-- no longer needs an index in score order. Each replica finds the rows other replicas
-- changed since it last looked by updated_at and by who wrote them.
DROP INDEX period_scores_rank;
ALTER TABLE period_scores ADD COLUMN written_by text NOT NULL DEFAULT '';
CREATE INDEX period_scores_changed ON period_scores (updated_at);
