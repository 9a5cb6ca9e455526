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

-- Monthly rollups (issue 16): the daily rollups a report reads (kpi, wait,
-- rule, dimension) summed per calendar month, kept equal to the sum of
-- their days by triggers on the daily tables — every path that changes a
-- day (imports adding, reviews swapping a contribution, rebuilds deleting
-- and inserting) changes its month in the same transaction. `month` is the
-- local day number of the month's first day. A report reads whole months
-- here and the remaining days from the daily tables, so a month's
-- leaderboard reads a thirtieth of the rows. Rows whose sums fall to zero
-- stay (reads skip them).

CREATE TABLE kpi_monthly (
    month BIGINT NOT NULL,
    agent_id TEXT NOT NULL,
    offered BIGINT NOT NULL,
    answered BIGINT NOT NULL,
    score_sum DOUBLE PRECISION NOT NULL,
    passed BIGINT NOT NULL,
    vetoes BIGINT NOT NULL,
    reviewed BIGINT NOT NULL,
    wait_count BIGINT NOT NULL,
    wait_sum BIGINT NOT NULL,
    sat_count BIGINT NOT NULL,
    sat_sum BIGINT NOT NULL,
    sat_satisfied BIGINT NOT NULL,
    PRIMARY KEY (month, agent_id)
);
INSERT INTO kpi_monthly (month, agent_id, offered, answered, score_sum, passed, vetoes, reviewed, wait_count, wait_sum, sat_count, sat_sum, sat_satisfied)
    SELECT (CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01'), agent_id, SUM(offered), SUM(answered), SUM(score_sum), SUM(passed), SUM(vetoes), SUM(reviewed), SUM(wait_count), SUM(wait_sum), SUM(sat_count), SUM(sat_sum), SUM(sat_satisfied)
    FROM kpi_daily GROUP BY 1, 2;
CREATE FUNCTION kpi_daily_to_month() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE kpi_monthly SET offered = offered - OLD.offered, answered = answered - OLD.answered, score_sum = score_sum - OLD.score_sum, passed = passed - OLD.passed, vetoes = vetoes - OLD.vetoes, reviewed = reviewed - OLD.reviewed, wait_count = wait_count - OLD.wait_count, wait_sum = wait_sum - OLD.wait_sum, sat_count = sat_count - OLD.sat_count, sat_sum = sat_sum - OLD.sat_sum, sat_satisfied = sat_satisfied - OLD.sat_satisfied
        WHERE month = (CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(OLD.day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01') AND agent_id = OLD.agent_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO kpi_monthly (month, agent_id, offered, answered, score_sum, passed, vetoes, reviewed, wait_count, wait_sum, sat_count, sat_sum, sat_satisfied)
        VALUES ((CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(NEW.day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01'), NEW.agent_id, NEW.offered, NEW.answered, NEW.score_sum, NEW.passed, NEW.vetoes, NEW.reviewed, NEW.wait_count, NEW.wait_sum, NEW.sat_count, NEW.sat_sum, NEW.sat_satisfied)
        ON CONFLICT (month, agent_id) DO UPDATE SET offered = kpi_monthly.offered + excluded.offered, answered = kpi_monthly.answered + excluded.answered, score_sum = kpi_monthly.score_sum + excluded.score_sum, passed = kpi_monthly.passed + excluded.passed, vetoes = kpi_monthly.vetoes + excluded.vetoes, reviewed = kpi_monthly.reviewed + excluded.reviewed, wait_count = kpi_monthly.wait_count + excluded.wait_count, wait_sum = kpi_monthly.wait_sum + excluded.wait_sum, sat_count = kpi_monthly.sat_count + excluded.sat_count, sat_sum = kpi_monthly.sat_sum + excluded.sat_sum, sat_satisfied = kpi_monthly.sat_satisfied + excluded.sat_satisfied;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER kpi_daily_to_month AFTER INSERT OR UPDATE OR DELETE ON kpi_daily
    FOR EACH ROW EXECUTE FUNCTION kpi_daily_to_month();
CREATE TABLE wait_monthly (
    month BIGINT NOT NULL,
    agent_id TEXT NOT NULL,
    sec BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (month, agent_id, sec)
);
INSERT INTO wait_monthly (month, agent_id, sec, n)
    SELECT (CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01'), agent_id, sec, SUM(n)
    FROM wait_daily GROUP BY 1, 2, 3;
CREATE FUNCTION wait_daily_to_month() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE wait_monthly SET n = n - OLD.n
        WHERE month = (CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(OLD.day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01') AND agent_id = OLD.agent_id AND sec = OLD.sec;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO wait_monthly (month, agent_id, sec, n)
        VALUES ((CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(NEW.day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01'), NEW.agent_id, NEW.sec, NEW.n)
        ON CONFLICT (month, agent_id, sec) DO UPDATE SET n = wait_monthly.n + excluded.n;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER wait_daily_to_month AFTER INSERT OR UPDATE OR DELETE ON wait_daily
    FOR EACH ROW EXECUTE FUNCTION wait_daily_to_month();
CREATE TABLE rule_monthly (
    month BIGINT NOT NULL,
    agent_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    dimension TEXT NOT NULL,
    conversations BIGINT NOT NULL,
    findings BIGINT NOT NULL,
    deduction DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (month, agent_id, rule)
);
INSERT INTO rule_monthly (month, agent_id, rule, dimension, conversations, findings, deduction)
    SELECT (CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01'), agent_id, rule, MAX(dimension), SUM(conversations), SUM(findings), SUM(deduction)
    FROM rule_daily GROUP BY 1, 2, 3;
CREATE FUNCTION rule_daily_to_month() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE rule_monthly SET conversations = conversations - OLD.conversations, findings = findings - OLD.findings, deduction = deduction - OLD.deduction
        WHERE month = (CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(OLD.day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01') AND agent_id = OLD.agent_id AND rule = OLD.rule;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rule_monthly (month, agent_id, rule, dimension, conversations, findings, deduction)
        VALUES ((CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(NEW.day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01'), NEW.agent_id, NEW.rule, NEW.dimension, NEW.conversations, NEW.findings, NEW.deduction)
        ON CONFLICT (month, agent_id, rule) DO UPDATE SET conversations = rule_monthly.conversations + excluded.conversations, findings = rule_monthly.findings + excluded.findings, deduction = rule_monthly.deduction + excluded.deduction, dimension = excluded.dimension;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER rule_daily_to_month AFTER INSERT OR UPDATE OR DELETE ON rule_daily
    FOR EACH ROW EXECUTE FUNCTION rule_daily_to_month();
CREATE TABLE dimension_monthly (
    month BIGINT NOT NULL,
    agent_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    conversations BIGINT NOT NULL,
    deduction DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (month, agent_id, dimension)
);
INSERT INTO dimension_monthly (month, agent_id, dimension, conversations, deduction)
    SELECT (CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01'), agent_id, dimension, SUM(conversations), SUM(deduction)
    FROM dimension_daily GROUP BY 1, 2, 3;
CREATE FUNCTION dimension_daily_to_month() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE dimension_monthly SET conversations = conversations - OLD.conversations, deduction = deduction - OLD.deduction
        WHERE month = (CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(OLD.day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01') AND agent_id = OLD.agent_id AND dimension = OLD.dimension;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO dimension_monthly (month, agent_id, dimension, conversations, deduction)
        VALUES ((CAST(date_trunc('month', CAST(DATE '1970-01-01' + CAST(NEW.day AS INTEGER) AS timestamp)) AS date) - DATE '1970-01-01'), NEW.agent_id, NEW.dimension, NEW.conversations, NEW.deduction)
        ON CONFLICT (month, agent_id, dimension) DO UPDATE SET conversations = dimension_monthly.conversations + excluded.conversations, deduction = dimension_monthly.deduction + excluded.deduction;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER dimension_daily_to_month AFTER INSERT OR UPDATE OR DELETE ON dimension_daily
    FOR EACH ROW EXECUTE FUNCTION dimension_daily_to_month();
