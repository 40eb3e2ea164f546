-- ListAgentChallenges reads one agent's periods; the primary key leads with the challenge.
CREATE INDEX challenge_progress_by_agent ON challenge_progress (tenant_id, agent_id, period);
