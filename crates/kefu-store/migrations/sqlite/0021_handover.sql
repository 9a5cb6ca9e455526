-- Shift handover (交接班): shifts per team, handovers from one shift to the
-- next with their items, an append-only history and the escalations of
-- urgent items nobody acknowledged in time. Teams are `users.team`.
-- Times are Unix milliseconds (UTC); shift times are minutes after local
-- midnight (China time), and a shift may cross midnight (end < start).

CREATE TABLE handover_shifts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    team        TEXT NOT NULL,
    name        TEXT NOT NULL,                 -- 早班, 中班, 晚班 …
    start_min   INTEGER NOT NULL CHECK (start_min >= 0 AND start_min < 1440),
    end_min     INTEGER NOT NULL CHECK (end_min >= 0 AND end_min < 1440),
    created_at  INTEGER NOT NULL,
    UNIQUE (team, name)
);

CREATE TABLE handovers (
    id               TEXT PRIMARY KEY,         -- HO-YYYYMMDD-NNNNNN
    version          INTEGER NOT NULL,
    team             TEXT NOT NULL,
    shift_name       TEXT NOT NULL,            -- the outgoing shift
    next_shift_name  TEXT NOT NULL,            -- the incoming shift
    from_user        TEXT NOT NULL,            -- the outgoing user
    to_user          TEXT,                     -- the incoming user, when named
    window_from      INTEGER NOT NULL,         -- the outgoing shift's end
    window_to        INTEGER NOT NULL,         -- the next shift's end
    note             TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'acknowledged', 'disputed')),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    submitted_at     INTEGER,
    acknowledged_at  INTEGER
);
CREATE INDEX handovers_from ON handovers (from_user, created_at);
CREATE INDEX handovers_team ON handovers (team, state, created_at);

CREATE TABLE handover_items (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    handover_id     TEXT NOT NULL REFERENCES handovers (id),
    position        INTEGER NOT NULL,
    kind            TEXT NOT NULL,             -- complaint_reply, complaint_resolve, revisit, follow_up, care, appeal, feedback, free
    object_id       TEXT,                      -- the complaint, customer, appeal … it is about
    title           TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('normal', 'watch', 'urgent')),
    action          TEXT NOT NULL,
    owner           TEXT,
    due_at          INTEGER,
    contingency     TEXT NOT NULL,             -- 若…则…
    state           TEXT NOT NULL CHECK (state IN ('pending', 'acknowledged', 'disputed')),
    restatement     TEXT,                      -- the incoming user's own words
    dispute_reason  TEXT,
    answered_by     TEXT,
    answered_at     INTEGER
);
CREATE INDEX handover_items_handover ON handover_items (handover_id, position);
CREATE INDEX handover_items_urgent ON handover_items (state, severity) WHERE state <> 'acknowledged';

-- One row per item, ever: the primary key is what makes an escalation
-- happen once, however many nodes scan at once.
CREATE TABLE handover_escalations (
    item_id      INTEGER PRIMARY KEY REFERENCES handover_items (id),
    handover_id  TEXT NOT NULL REFERENCES handovers (id),
    at           INTEGER NOT NULL,
    node_id      TEXT NOT NULL
);
CREATE INDEX handover_escalations_handover ON handover_escalations (handover_id);

-- Append-only: the triggers below refuse updates and deletes.
CREATE TABLE handover_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    handover_id  TEXT NOT NULL REFERENCES handovers (id),
    item_id      INTEGER,
    at           INTEGER NOT NULL,
    actor_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,                -- created, items_replaced, submitted, acknowledged, restated, disputed, escalated, complaint_assigned
    detail       TEXT NOT NULL                 -- JSON object
);
CREATE INDEX handover_events_handover ON handover_events (handover_id, id);

CREATE TRIGGER handover_events_no_update BEFORE UPDATE ON handover_events
BEGIN
    SELECT RAISE(ABORT, 'handover_events is append-only');
END;
CREATE TRIGGER handover_events_no_delete BEFORE DELETE ON handover_events
BEGIN
    SELECT RAISE(ABORT, 'handover_events is append-only');
END;
