-- Conversations, the rule-pack versions that judged them, and their results.
-- Times are Unix milliseconds (UTC); the conversation's own UTC offset is
-- kept so local time-of-day can be recovered.

CREATE TABLE conversations (
    id             TEXT PRIMARY KEY,
    channel        TEXT NOT NULL,
    agent_id       TEXT,
    agent_name     TEXT,
    customer_id    TEXT,
    customer_name  TEXT,
    started_at     INTEGER,
    utc_offset_s   INTEGER,
    wait_ms        INTEGER,
    ended_by       TEXT,
    turn_count     INTEGER NOT NULL,
    record         BLOB NOT NULL,   -- native JSON, LZ4-compressed (size-prefixed)
    imported_at    INTEGER NOT NULL
);
-- Lists and reports filter through inspections (which carry agent and
-- start time), so conversations need no secondary index: imports stay fast.

CREATE TABLE pack_versions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    pack_id     TEXT NOT NULL,
    version     TEXT NOT NULL,
    digest      TEXT NOT NULL UNIQUE,
    source      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE inspections (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  TEXT NOT NULL REFERENCES conversations (id),
    pack_version_id  INTEGER NOT NULL REFERENCES pack_versions (id),
    is_current       INTEGER NOT NULL,
    agent_id         TEXT,
    started_at       INTEGER,
    score            REAL NOT NULL,
    passed           INTEGER NOT NULL,
    veto             INTEGER NOT NULL,
    grade            TEXT,
    finding_count    INTEGER NOT NULL,
    result           BLOB NOT NULL,   -- result JSON, LZ4-compressed (size-prefixed)
    created_at       INTEGER NOT NULL
);
CREATE INDEX inspections_conversation ON inspections (conversation_id);
-- At most one current result per conversation, even with several nodes.
CREATE UNIQUE INDEX inspections_one_current ON inspections (conversation_id) WHERE is_current = 1;
CREATE INDEX inspections_current_agent ON inspections (agent_id, started_at) WHERE is_current = 1;
CREATE INDEX inspections_current_started ON inspections (started_at) WHERE is_current = 1;

CREATE TABLE findings (
    inspection_id  INTEGER NOT NULL REFERENCES inspections (id),
    rule           TEXT NOT NULL,
    dimension      TEXT NOT NULL,
    turn           INTEGER,
    deduction      REAL NOT NULL
);
-- Findings are read through the result document or by rule; no index on
-- inspection_id (it would cost every import a B-tree insert per finding).
CREATE INDEX findings_rule ON findings (rule, inspection_id);
