-- Inbox rows recorded before the inbox was keyed by topic. The badges consumer reads
-- activity and feedback and did not record which one an event came from, so each such
-- event counts as applied on both, until the retention purge removes the rows.
INSERT INTO applied_events (consumer, topic, tenant_id, event_id, applied_at)
SELECT consumer, 'feedback', tenant_id, event_id, applied_at FROM applied_events WHERE topic = '';
UPDATE applied_events SET topic = 'activity' WHERE topic = '';
