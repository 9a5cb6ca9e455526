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
    month INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    offered INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    score_sum REAL NOT NULL,
    passed INTEGER NOT NULL,
    vetoes INTEGER NOT NULL,
    reviewed INTEGER NOT NULL,
    wait_count INTEGER NOT NULL,
    wait_sum INTEGER NOT NULL,
    sat_count INTEGER NOT NULL,
    sat_sum INTEGER NOT NULL,
    sat_satisfied INTEGER NOT NULL,
    PRIMARY KEY (month, agent_id)
);
INSERT INTO kpi_monthly (month, agent_id, offered, answered, score_sum, passed, vetoes, reviewed, wait_count, wait_sum, sat_count, sat_sum, sat_satisfied)
    SELECT CAST(julianday(day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), agent_id, SUM(offered), SUM(answered), SUM(score_sum), SUM(passed), SUM(vetoes), SUM(reviewed), SUM(wait_count), SUM(wait_sum), SUM(sat_count), SUM(sat_sum), SUM(sat_satisfied)
    FROM kpi_daily GROUP BY 1, 2;
CREATE TRIGGER kpi_daily_to_month_insert AFTER INSERT ON kpi_daily BEGIN
    INSERT INTO kpi_monthly (month, agent_id, offered, answered, score_sum, passed, vetoes, reviewed, wait_count, wait_sum, sat_count, sat_sum, sat_satisfied)
        VALUES (CAST(julianday(NEW.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), NEW.agent_id, NEW.offered, NEW.answered, NEW.score_sum, NEW.passed, NEW.vetoes, NEW.reviewed, NEW.wait_count, NEW.wait_sum, NEW.sat_count, NEW.sat_sum, NEW.sat_satisfied)
        ON CONFLICT (month, agent_id) DO UPDATE SET offered = kpi_monthly.offered + excluded.offered, answered = kpi_monthly.answered + excluded.answered, score_sum = kpi_monthly.score_sum + excluded.score_sum, passed = kpi_monthly.passed + excluded.passed, vetoes = kpi_monthly.vetoes + excluded.vetoes, reviewed = kpi_monthly.reviewed + excluded.reviewed, wait_count = kpi_monthly.wait_count + excluded.wait_count, wait_sum = kpi_monthly.wait_sum + excluded.wait_sum, sat_count = kpi_monthly.sat_count + excluded.sat_count, sat_sum = kpi_monthly.sat_sum + excluded.sat_sum, sat_satisfied = kpi_monthly.sat_satisfied + excluded.sat_satisfied;
END;
CREATE TRIGGER kpi_daily_to_month_update AFTER UPDATE ON kpi_daily BEGIN
    UPDATE kpi_monthly SET offered = offered - OLD.offered, answered = answered - OLD.answered, score_sum = score_sum - OLD.score_sum, passed = passed - OLD.passed, vetoes = vetoes - OLD.vetoes, reviewed = reviewed - OLD.reviewed, wait_count = wait_count - OLD.wait_count, wait_sum = wait_sum - OLD.wait_sum, sat_count = sat_count - OLD.sat_count, sat_sum = sat_sum - OLD.sat_sum, sat_satisfied = sat_satisfied - OLD.sat_satisfied
        WHERE month = CAST(julianday(OLD.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER) AND agent_id = OLD.agent_id;
    INSERT INTO kpi_monthly (month, agent_id, offered, answered, score_sum, passed, vetoes, reviewed, wait_count, wait_sum, sat_count, sat_sum, sat_satisfied)
        VALUES (CAST(julianday(NEW.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), NEW.agent_id, NEW.offered, NEW.answered, NEW.score_sum, NEW.passed, NEW.vetoes, NEW.reviewed, NEW.wait_count, NEW.wait_sum, NEW.sat_count, NEW.sat_sum, NEW.sat_satisfied)
        ON CONFLICT (month, agent_id) DO UPDATE SET offered = kpi_monthly.offered + excluded.offered, answered = kpi_monthly.answered + excluded.answered, score_sum = kpi_monthly.score_sum + excluded.score_sum, passed = kpi_monthly.passed + excluded.passed, vetoes = kpi_monthly.vetoes + excluded.vetoes, reviewed = kpi_monthly.reviewed + excluded.reviewed, wait_count = kpi_monthly.wait_count + excluded.wait_count, wait_sum = kpi_monthly.wait_sum + excluded.wait_sum, sat_count = kpi_monthly.sat_count + excluded.sat_count, sat_sum = kpi_monthly.sat_sum + excluded.sat_sum, sat_satisfied = kpi_monthly.sat_satisfied + excluded.sat_satisfied;
END;
CREATE TRIGGER kpi_daily_to_month_delete AFTER DELETE ON kpi_daily BEGIN
    UPDATE kpi_monthly SET offered = offered - OLD.offered, answered = answered - OLD.answered, score_sum = score_sum - OLD.score_sum, passed = passed - OLD.passed, vetoes = vetoes - OLD.vetoes, reviewed = reviewed - OLD.reviewed, wait_count = wait_count - OLD.wait_count, wait_sum = wait_sum - OLD.wait_sum, sat_count = sat_count - OLD.sat_count, sat_sum = sat_sum - OLD.sat_sum, sat_satisfied = sat_satisfied - OLD.sat_satisfied
        WHERE month = CAST(julianday(OLD.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER) AND agent_id = OLD.agent_id;
END;
CREATE TABLE wait_monthly (
    month INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    sec INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (month, agent_id, sec)
);
INSERT INTO wait_monthly (month, agent_id, sec, n)
    SELECT CAST(julianday(day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), agent_id, sec, SUM(n)
    FROM wait_daily GROUP BY 1, 2, 3;
CREATE TRIGGER wait_daily_to_month_insert AFTER INSERT ON wait_daily BEGIN
    INSERT INTO wait_monthly (month, agent_id, sec, n)
        VALUES (CAST(julianday(NEW.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), NEW.agent_id, NEW.sec, NEW.n)
        ON CONFLICT (month, agent_id, sec) DO UPDATE SET n = wait_monthly.n + excluded.n;
END;
CREATE TRIGGER wait_daily_to_month_update AFTER UPDATE ON wait_daily BEGIN
    UPDATE wait_monthly SET n = n - OLD.n
        WHERE month = CAST(julianday(OLD.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER) AND agent_id = OLD.agent_id AND sec = OLD.sec;
    INSERT INTO wait_monthly (month, agent_id, sec, n)
        VALUES (CAST(julianday(NEW.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), NEW.agent_id, NEW.sec, NEW.n)
        ON CONFLICT (month, agent_id, sec) DO UPDATE SET n = wait_monthly.n + excluded.n;
END;
CREATE TRIGGER wait_daily_to_month_delete AFTER DELETE ON wait_daily BEGIN
    UPDATE wait_monthly SET n = n - OLD.n
        WHERE month = CAST(julianday(OLD.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER) AND agent_id = OLD.agent_id AND sec = OLD.sec;
END;
CREATE TABLE rule_monthly (
    month INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    dimension TEXT NOT NULL,
    conversations INTEGER NOT NULL,
    findings INTEGER NOT NULL,
    deduction REAL NOT NULL,
    PRIMARY KEY (month, agent_id, rule)
);
INSERT INTO rule_monthly (month, agent_id, rule, dimension, conversations, findings, deduction)
    SELECT CAST(julianday(day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), agent_id, rule, MAX(dimension), SUM(conversations), SUM(findings), SUM(deduction)
    FROM rule_daily GROUP BY 1, 2, 3;
CREATE TRIGGER rule_daily_to_month_insert AFTER INSERT ON rule_daily BEGIN
    INSERT INTO rule_monthly (month, agent_id, rule, dimension, conversations, findings, deduction)
        VALUES (CAST(julianday(NEW.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), NEW.agent_id, NEW.rule, NEW.dimension, NEW.conversations, NEW.findings, NEW.deduction)
        ON CONFLICT (month, agent_id, rule) DO UPDATE SET conversations = rule_monthly.conversations + excluded.conversations, findings = rule_monthly.findings + excluded.findings, deduction = rule_monthly.deduction + excluded.deduction, dimension = excluded.dimension;
END;
CREATE TRIGGER rule_daily_to_month_update AFTER UPDATE ON rule_daily BEGIN
    UPDATE rule_monthly SET conversations = conversations - OLD.conversations, findings = findings - OLD.findings, deduction = deduction - OLD.deduction
        WHERE month = CAST(julianday(OLD.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER) AND agent_id = OLD.agent_id AND rule = OLD.rule;
    INSERT INTO rule_monthly (month, agent_id, rule, dimension, conversations, findings, deduction)
        VALUES (CAST(julianday(NEW.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), NEW.agent_id, NEW.rule, NEW.dimension, NEW.conversations, NEW.findings, NEW.deduction)
        ON CONFLICT (month, agent_id, rule) DO UPDATE SET conversations = rule_monthly.conversations + excluded.conversations, findings = rule_monthly.findings + excluded.findings, deduction = rule_monthly.deduction + excluded.deduction, dimension = excluded.dimension;
END;
CREATE TRIGGER rule_daily_to_month_delete AFTER DELETE ON rule_daily BEGIN
    UPDATE rule_monthly SET conversations = conversations - OLD.conversations, findings = findings - OLD.findings, deduction = deduction - OLD.deduction
        WHERE month = CAST(julianday(OLD.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER) AND agent_id = OLD.agent_id AND rule = OLD.rule;
END;
CREATE TABLE dimension_monthly (
    month INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    conversations INTEGER NOT NULL,
    deduction REAL NOT NULL,
    PRIMARY KEY (month, agent_id, dimension)
);
INSERT INTO dimension_monthly (month, agent_id, dimension, conversations, deduction)
    SELECT CAST(julianday(day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), agent_id, dimension, SUM(conversations), SUM(deduction)
    FROM dimension_daily GROUP BY 1, 2, 3;
CREATE TRIGGER dimension_daily_to_month_insert AFTER INSERT ON dimension_daily BEGIN
    INSERT INTO dimension_monthly (month, agent_id, dimension, conversations, deduction)
        VALUES (CAST(julianday(NEW.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), NEW.agent_id, NEW.dimension, NEW.conversations, NEW.deduction)
        ON CONFLICT (month, agent_id, dimension) DO UPDATE SET conversations = dimension_monthly.conversations + excluded.conversations, deduction = dimension_monthly.deduction + excluded.deduction;
END;
CREATE TRIGGER dimension_daily_to_month_update AFTER UPDATE ON dimension_daily BEGIN
    UPDATE dimension_monthly SET conversations = conversations - OLD.conversations, deduction = deduction - OLD.deduction
        WHERE month = CAST(julianday(OLD.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER) AND agent_id = OLD.agent_id AND dimension = OLD.dimension;
    INSERT INTO dimension_monthly (month, agent_id, dimension, conversations, deduction)
        VALUES (CAST(julianday(NEW.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER), NEW.agent_id, NEW.dimension, NEW.conversations, NEW.deduction)
        ON CONFLICT (month, agent_id, dimension) DO UPDATE SET conversations = dimension_monthly.conversations + excluded.conversations, deduction = dimension_monthly.deduction + excluded.deduction;
END;
CREATE TRIGGER dimension_daily_to_month_delete AFTER DELETE ON dimension_daily BEGIN
    UPDATE dimension_monthly SET conversations = conversations - OLD.conversations, deduction = deduction - OLD.deduction
        WHERE month = CAST(julianday(OLD.day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER) AND agent_id = OLD.agent_id AND dimension = OLD.dimension;
END;
