-- Quality management: human review of results (复核), agents' appeals
-- (申诉), review queues (抽检), the audit trail, daily rollups behind KPIs
-- and star ratings, and frozen periodic assessments (考核).

-- Facts about each conversation that KPIs need, copied onto its results so
-- that reports read one table: the local calendar day (days since
-- 1970-01-01 in the conversation's own UTC offset), the wait before answer,
-- whether it was answered at all (abandoned calls are offered, not
-- answered), and a post-contact satisfaction score 0–10 when the source
-- system recorded one.
ALTER TABLE inspections ADD COLUMN local_day INTEGER;
ALTER TABLE inspections ADD COLUMN wait_ms INTEGER;
ALTER TABLE inspections ADD COLUMN answered INTEGER NOT NULL DEFAULT 1;
ALTER TABLE inspections ADD COLUMN satisfaction INTEGER;
-- Set once a person reviewed the result or an appeal changed it; `score`,
-- `passed`, `veto`, `grade` and the findings rows are then the reviewed
-- values (the automatic ones stay in `result`).
ALTER TABLE inspections ADD COLUMN reviewed_at INTEGER;
-- The channel (phone, chat), for filtering lists without the records.
ALTER TABLE inspections ADD COLUMN channel TEXT;

UPDATE inspections SET
    local_day = (SELECT (c.started_at + COALESCE(c.utc_offset_s, 28800) * 1000) / 86400000
                 FROM conversations c WHERE c.id = inspections.conversation_id),
    wait_ms = (SELECT c.wait_ms FROM conversations c WHERE c.id = inspections.conversation_id),
    channel = (SELECT c.channel FROM conversations c WHERE c.id = inspections.conversation_id);

CREATE INDEX inspections_current_day ON inspections (local_day, agent_id) WHERE is_current = 1;
CREATE INDEX findings_inspection ON findings (inspection_id);

-- The review of one result; `input` is what the reviewer entered (JSON).
CREATE TABLE reviews (
    inspection_id    INTEGER PRIMARY KEY REFERENCES inspections (id),
    conversation_id  TEXT NOT NULL,
    agent_id         TEXT,
    reviewer_id      TEXT NOT NULL,
    input            TEXT NOT NULL,
    auto_score       REAL NOT NULL,
    final_score      REAL NOT NULL,
    version          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX reviews_reviewer ON reviews (reviewer_id, updated_at);

-- An agent's appeal against one finding (by its key, see
-- kefu_engine::review). state: open, accepted (申诉成立: the finding is
-- withdrawn), rejected (申诉驳回).
CREATE TABLE appeals (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    inspection_id     INTEGER NOT NULL REFERENCES inspections (id),
    conversation_id   TEXT NOT NULL,
    agent_id          TEXT NOT NULL,
    finding_key       TEXT NOT NULL,
    rule              TEXT NOT NULL,
    reason            TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('open', 'accepted', 'rejected')),
    created_at        INTEGER NOT NULL,
    decided_by        TEXT,
    decided_at        INTEGER,
    decision_comment  TEXT,
    score_before      REAL NOT NULL,
    score_after       REAL,
    UNIQUE (inspection_id, finding_key)
);
CREATE INDEX appeals_state ON appeals (state, created_at);
CREATE INDEX appeals_agent ON appeals (agent_id, created_at);

-- Conversations picked for review, and why: veto, below_pass, random.
CREATE TABLE review_queue (
    inspection_id    INTEGER PRIMARY KEY REFERENCES inspections (id),
    conversation_id  TEXT NOT NULL,
    agent_id         TEXT,
    local_day        INTEGER,
    reason           TEXT NOT NULL,
    seed             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    done_at          INTEGER,
    done_by          TEXT
);
CREATE INDEX review_queue_open ON review_queue (done_at, local_day);

-- Append-only: who did what to reviews, appeals, queues and assessments.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_role  TEXT NOT NULL,
    entity      TEXT NOT NULL,   -- review, appeal, queue, assessment, settings
    entity_id   TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL    -- JSON object
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Daily rollups per agent ('' when unknown). Imports add their own
-- conversations to them in the import's transaction; other writes that
-- change results (re-inspection, review, appeal decisions) list their days
-- in rollup_dirty, and those days are rebuilt from the base tables before
-- the next report.
CREATE TABLE kpi_daily (
    day            INTEGER NOT NULL,
    agent_id       TEXT NOT NULL,
    offered        INTEGER NOT NULL,
    answered       INTEGER NOT NULL,
    score_sum      REAL NOT NULL,
    passed         INTEGER NOT NULL,
    vetoes         INTEGER NOT NULL,
    reviewed       INTEGER NOT NULL,
    wait_count     INTEGER NOT NULL,
    wait_sum       INTEGER NOT NULL,
    sat_count      INTEGER NOT NULL,
    sat_sum        INTEGER NOT NULL,
    sat_satisfied  INTEGER NOT NULL,
    PRIMARY KEY (day, agent_id)
);
-- Waits before answer per second (rounded up, capped at 600 s).
CREATE TABLE wait_daily (
    day       INTEGER NOT NULL,
    agent_id  TEXT NOT NULL,
    sec       INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (day, agent_id, sec)
);
-- Scores of answered conversations in 5-point buckets (0, 5, …, 100).
CREATE TABLE score_daily (
    day       INTEGER NOT NULL,
    agent_id  TEXT NOT NULL,
    bucket    INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (day, agent_id, bucket)
);
CREATE TABLE rule_daily (
    day            INTEGER NOT NULL,
    agent_id       TEXT NOT NULL,
    rule           TEXT NOT NULL,
    dimension      TEXT NOT NULL,
    conversations  INTEGER NOT NULL,
    findings       INTEGER NOT NULL,
    deduction      REAL NOT NULL,
    PRIMARY KEY (day, agent_id, rule)
);
CREATE TABLE dimension_daily (
    day            INTEGER NOT NULL,
    agent_id       TEXT NOT NULL,
    dimension      TEXT NOT NULL,
    conversations  INTEGER NOT NULL,
    deduction      REAL NOT NULL,
    PRIMARY KEY (day, agent_id, dimension)
);
CREATE TABLE rollup_dirty (
    day  INTEGER PRIMARY KEY
);
INSERT INTO rollup_dirty (day)
    SELECT DISTINCT local_day FROM inspections WHERE local_day IS NOT NULL;

-- Periodic assessments (考核); frozen once published.
CREATE TABLE assessments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    period        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('draft', 'published')),
    scheme        TEXT NOT NULL,   -- JSON
    results       TEXT NOT NULL,   -- JSON
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    published_by  TEXT,
    published_at  INTEGER
);
CREATE UNIQUE INDEX assessments_one_published ON assessments (period) WHERE status = 'published';
CREATE TRIGGER assessments_frozen_update BEFORE UPDATE ON assessments
WHEN OLD.status = 'published'
BEGIN
    SELECT RAISE(ABORT, 'a published assessment is frozen');
END;
CREATE TRIGGER assessments_frozen_delete BEFORE DELETE ON assessments
WHEN OLD.status = 'published'
BEGIN
    SELECT RAISE(ABORT, 'a published assessment is frozen');
END;

-- Centre-wide charts read a period's rollups by day then rule, score band
-- or wait second: these keep those reads in index order (no sorting).
-- They cover every column, so per-agent reports read them without
-- visiting the table either.
CREATE INDEX rule_daily_day_rule ON rule_daily (day, rule, agent_id, dimension, conversations, findings, deduction);
CREATE INDEX score_daily_day_bucket ON score_daily (day, bucket, agent_id, n);
CREATE INDEX wait_daily_day_sec ON wait_daily (day, sec, agent_id, n);
