-- Information feedback (信息反馈): customers' opinions collected from
-- conversation turns, survey comments, complaints and manual entry, routed
-- to a department, answered, and told back to the customer.
-- Times are Unix milliseconds (UTC). The category tree and the ageing rules
-- are settings (key 'feedback', JSON).

CREATE TABLE feedback (
    id                TEXT PRIMARY KEY,          -- FB-YYYYMMDD-NNNNNN
    version           INTEGER NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('conversation_turn', 'survey_comment', 'complaint', 'manual')),
    conversation_id   TEXT,
    turn_index        INTEGER,
    complaint_id      TEXT,
    customer_id       TEXT,
    category          TEXT NOT NULL,             -- a path of the category tree, '/'-separated
    content           TEXT NOT NULL,             -- the customer's words
    department        TEXT,
    owner_id          TEXT,
    due_at            INTEGER,
    state             TEXT NOT NULL,             -- new, assigned, in_progress, answered, customer_told, closed, rejected
    response          TEXT,                      -- the department's answer
    responded_at      INTEGER,
    customer_told_at  INTEGER,
    reject_reason     TEXT,
    created_by        TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    state_since       INTEGER NOT NULL,          -- when it entered its state (ageing counts from here)
    escalated_at      INTEGER,                   -- flagged by ageing in the current state; cleared on a move
    closed_at         INTEGER                    -- closed or rejected
);
CREATE INDEX feedback_created ON feedback (created_at, id);
CREATE INDEX feedback_state ON feedback (state, created_at, id);
CREATE INDEX feedback_department ON feedback (department, created_at, id);
CREATE INDEX feedback_owner ON feedback (owner_id, created_at, id);
CREATE INDEX feedback_ageing ON feedback (state, state_since) WHERE escalated_at IS NULL;
CREATE INDEX feedback_conversation ON feedback (conversation_id, turn_index) WHERE conversation_id IS NOT NULL;

-- Append-only: the triggers below refuse updates and deletes.
CREATE TABLE feedback_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    feedback_id  TEXT NOT NULL REFERENCES feedback (id),
    at           INTEGER NOT NULL,
    actor_id     TEXT NOT NULL,
    actor_role   TEXT NOT NULL,                  -- agent, inspector, supervisor, admin, or system
    kind         TEXT NOT NULL,                  -- created, assign, start, respond, tell_customer, close, reject, note, escalated
    from_state   TEXT,
    to_state     TEXT,
    detail       TEXT NOT NULL                   -- JSON object
);
CREATE INDEX feedback_events_feedback ON feedback_events (feedback_id, id);

CREATE TRIGGER feedback_events_no_update BEFORE UPDATE ON feedback_events
BEGIN
    SELECT RAISE(ABORT, 'feedback_events is append-only');
END;
CREATE TRIGGER feedback_events_no_delete BEFORE DELETE ON feedback_events
BEGIN
    SELECT RAISE(ABORT, 'feedback_events is append-only');
END;
