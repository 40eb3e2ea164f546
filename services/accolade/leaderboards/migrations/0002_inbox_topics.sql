-- Inbox rows recorded before the inbox was keyed by topic: the scores consumer read only
-- the activity topic.
UPDATE applied_events SET topic = 'activity' WHERE topic = '';
