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
    started_at     BIGINT,
    utc_offset_s   BIGINT,
    wait_ms        BIGINT,
    ended_by       TEXT,
    turn_count     BIGINT NOT NULL,
    record         BYTEA NOT NULL,  -- native JSON, LZ4-compressed (size-prefixed)
    imported_at    BIGINT NOT NULL
);
-- Lists and reports filter through inspections (which carry agent and
-- start time), so conversations need no secondary index: imports stay fast.

CREATE TABLE pack_versions (
    id          BIGSERIAL PRIMARY KEY,
    pack_id     TEXT NOT NULL,
    version     TEXT NOT NULL,
    digest      TEXT NOT NULL UNIQUE,
    source      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE inspections (
    id               BIGSERIAL PRIMARY KEY,
    conversation_id  TEXT NOT NULL REFERENCES conversations (id),
    pack_version_id  BIGINT NOT NULL REFERENCES pack_versions (id),
    is_current       BIGINT NOT NULL,
    agent_id         TEXT,
    started_at       BIGINT,
    score            DOUBLE PRECISION NOT NULL,
    passed           BIGINT NOT NULL,
    veto             BIGINT NOT NULL,
    grade            TEXT,
    finding_count    BIGINT NOT NULL,
    result           BYTEA NOT NULL,  -- result JSON, LZ4-compressed (size-prefixed)
    created_at       BIGINT NOT NULL
);
CREATE INDEX inspections_conversation ON inspections (conversation_id);
-- At most one current result per conversation, even with several nodes.
CREATE UNIQUE INDEX inspections_one_current ON inspections (conversation_id) WHERE is_current = 1;
CREATE INDEX inspections_current_agent ON inspections (agent_id, started_at) WHERE is_current = 1;
CREATE INDEX inspections_current_started ON inspections (started_at) WHERE is_current = 1;

CREATE TABLE findings (
    inspection_id  BIGINT NOT NULL REFERENCES inspections (id),
    rule           TEXT NOT NULL,
    dimension      TEXT NOT NULL,
    turn           BIGINT,
    deduction      DOUBLE PRECISION NOT NULL
);
-- Findings are read through the result document or by rule; no index on
-- inspection_id (it would cost every import a B-tree insert per finding).
CREATE INDEX findings_rule ON findings (rule, inspection_id);
