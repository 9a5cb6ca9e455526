-- Indexes for keyset pagination of the lists (issue 16): every filter the
-- API and the dashboard offer finds its rows in list order (newest first:
-- complaints by `opened_at, id`, results by `started_at, id`), so a page
-- reads about a page of index entries at any depth and the capped count
-- (at most 1,000 matches) stops early. The id is part of each index so
-- that the ORDER BY's tie-breaker and the keyset condition are answered by
-- the index too.
-- Not indexed, checked row by row along the list order instead: the SLA
-- conditions breached / near breach / at risk (ORs over clock columns
-- judged at "now"), claimable (OR over assignees), and score ranges.

DROP INDEX complaints_opened;
DROP INDEX complaints_state;
DROP INDEX complaints_assignee;
CREATE INDEX complaints_opened ON complaints (opened_at, id);
CREATE INDEX complaints_state ON complaints (state, opened_at, id);
CREATE INDEX complaints_assignee ON complaints (assignee_id, assignee_kind, opened_at, id);
CREATE INDEX complaints_unassigned ON complaints (opened_at, id) WHERE assignee_kind IS NULL;
CREATE INDEX complaints_priority ON complaints (priority, opened_at, id);
CREATE INDEX complaints_special ON complaints (special, opened_at, id);
CREATE INDEX complaints_paused ON complaints (opened_at, id)
    WHERE waiting_since IS NOT NULL AND state <> 'closed';

DROP INDEX inspections_current_started;
DROP INDEX inspections_current_agent;
CREATE INDEX inspections_current_started ON inspections (started_at, id) WHERE is_current = 1;
CREATE INDEX inspections_current_agent ON inspections (agent_id, started_at, id) WHERE is_current = 1;
CREATE INDEX inspections_current_passed ON inspections (passed, started_at, id) WHERE is_current = 1;
CREATE INDEX inspections_current_channel ON inspections (channel, started_at, id) WHERE is_current = 1;
CREATE INDEX inspections_current_pack ON inspections (pack_version_id, started_at, id) WHERE is_current = 1;
CREATE INDEX inspections_current_reviewed ON inspections (started_at, id)
    WHERE is_current = 1 AND reviewed_at IS NOT NULL;
CREATE INDEX users_team ON users (team) WHERE team IS NOT NULL;
