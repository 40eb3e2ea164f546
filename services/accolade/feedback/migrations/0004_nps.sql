-- Surveys may carry a Net Promoter Score (0-10) beside CSAT; NULL when not asked.
ALTER TABLE surveys ADD COLUMN nps smallint;
