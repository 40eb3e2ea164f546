-- WatchTeam reads a team's members every few seconds for each open stream.
CREATE INDEX roster_agents_team ON roster_agents (tenant_id, team_id) WHERE team_id <> '';
