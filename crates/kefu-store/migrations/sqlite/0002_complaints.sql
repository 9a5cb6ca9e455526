-- Complaints (投诉工单): the complaints themselves, their append-only
-- history, revisit tasks (回访), SLA escalations and settings.
-- Times are Unix milliseconds (UTC), flags 0/1 integers, structured values
-- JSON text. `complaints.doc` is the whole complaint as JSON and is the
-- source of truth; the other columns are copies kept for filtering, and the
-- SLA columns are recomputed by every write and by the SLA scanner.

CREATE TABLE complaints (
    id                        TEXT PRIMARY KEY,
    version                   INTEGER NOT NULL,
    state                     TEXT NOT NULL,
    priority                  TEXT NOT NULL,
    special                   INTEGER NOT NULL,
    assignee_kind             TEXT,            -- 'agent' | 'group' | NULL (unassigned)
    assignee_id               TEXT,
    customer_id               TEXT,
    customer_name             TEXT NOT NULL,
    channel                   TEXT NOT NULL,
    category                  TEXT NOT NULL,
    description               TEXT NOT NULL,
    conversation_id           TEXT,
    created_by                TEXT NOT NULL,
    reopen_count              INTEGER NOT NULL,
    doc                       TEXT NOT NULL,   -- the whole complaint, JSON
    opened_at                 INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    first_reply_at            INTEGER,
    resolved_at               INTEGER,
    closed_at                 INTEGER,
    waiting_since             INTEGER,
    -- SLA as of the last write. *_due_at: the first instant at which the
    -- clock is breached (counted time above the target; the deadline shown
    -- to people is computed on reading); *_near_at: the first instant it is
    -- a near breach. Both NULL when the clock is met, paused (waiting on the
    -- customer), without a target, or the complaint is closed.
    -- *_sla: met, met_late, running, paused, near_breach, breached,
    -- no_target, cancelled; sla_state: the worst of the two (met_late counts
    -- as breached).
    reply_due_at              INTEGER,
    reply_near_at             INTEGER,
    resolve_due_at            INTEGER,
    resolve_near_at           INTEGER,
    reply_sla                 TEXT NOT NULL,
    resolve_sla               TEXT NOT NULL,
    sla_state                 TEXT NOT NULL,
    -- The next instant the SLA scanner has something to do for this
    -- complaint (a near breach to announce, a breach to escalate); NULL when
    -- nothing is pending.
    sla_next_at               INTEGER,
    escalated_reply_at        INTEGER,
    escalated_resolve_at      INTEGER,
    reply_near_notified_at    INTEGER,
    resolve_near_notified_at  INTEGER
);
CREATE INDEX complaints_opened ON complaints (opened_at);
CREATE INDEX complaints_state ON complaints (state, opened_at);
CREATE INDEX complaints_assignee ON complaints (assignee_id, opened_at);
CREATE INDEX complaints_sla_next ON complaints (sla_next_at) WHERE sla_next_at IS NOT NULL;
CREATE INDEX complaints_conversation ON complaints (conversation_id) WHERE conversation_id IS NOT NULL;

-- Append-only: the triggers below refuse updates and deletes.
CREATE TABLE complaint_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    complaint_id  TEXT NOT NULL REFERENCES complaints (id),
    at            INTEGER NOT NULL,
    actor_id      TEXT NOT NULL,
    actor_role    TEXT NOT NULL,   -- agent, inspector, supervisor, admin, or system
    kind          TEXT NOT NULL,
    from_state    TEXT,
    to_state      TEXT,
    detail        TEXT NOT NULL    -- JSON object
);
CREATE INDEX complaint_history_complaint ON complaint_history (complaint_id, id);

CREATE TABLE revisit_tasks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    complaint_id    TEXT NOT NULL REFERENCES complaints (id),
    created_at      INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    assigned_role   TEXT NOT NULL,
    result_score    INTEGER,
    attitude_score  INTEGER,
    done_at         INTEGER,
    done_by         TEXT,
    outcome         TEXT,
    outcome_kind    TEXT
);
CREATE INDEX revisit_tasks_complaint ON revisit_tasks (complaint_id);
CREATE INDEX revisit_tasks_open_due ON revisit_tasks (due_at) WHERE done_at IS NULL;

-- One row per complaint and kind, ever: the unique key is what makes an
-- escalation happen exactly once, however many nodes scan at once.
CREATE TABLE escalations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    complaint_id  TEXT NOT NULL REFERENCES complaints (id),
    kind          TEXT NOT NULL CHECK (kind IN ('reply_breach', 'resolve_breach', 'reply_near_breach', 'resolve_near_breach')),
    due_at        INTEGER,
    created_at    INTEGER NOT NULL,
    node_id       TEXT NOT NULL,
    notified_to   TEXT NOT NULL,
    UNIQUE (complaint_id, kind)
);
CREATE INDEX escalations_created ON escalations (created_at);

-- Settings: SLA policy and business calendar ('sla'), survey bands and
-- revisit delay ('complaint_policy'); value is JSON.
CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL
);

-- Counters for readable ids (CMP-YYYYMMDD-NNNNNN): one row per day.
CREATE TABLE id_sequences (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);

CREATE TRIGGER complaint_history_no_update BEFORE UPDATE ON complaint_history
BEGIN
    SELECT RAISE(ABORT, 'complaint_history is append-only');
END;
CREATE TRIGGER complaint_history_no_delete BEFORE DELETE ON complaint_history
BEGIN
    SELECT RAISE(ABORT, 'complaint_history is append-only');
END;
