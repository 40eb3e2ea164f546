-- The retention purge deletes the oldest accepted events first, a few thousand at a time.
CREATE INDEX intake_events_recorded_at ON intake_events (recorded_at);
