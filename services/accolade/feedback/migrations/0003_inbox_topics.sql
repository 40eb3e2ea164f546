-- Inbox rows recorded before the inbox was keyed by topic: the roster consumer read only
-- the roster topic.
UPDATE applied_events SET topic = 'roster' WHERE topic = '';
