-- Background jobs the dashboard starts (re-inspection with the active pack),
-- in the database so every node shows their progress and a second start
-- is refused while one runs, whichever node runs it. Times are Unix ms;
-- `heartbeat_at` is refreshed while the job runs, so a job whose node died
-- can be recognised (and is marked abandoned by the next start).
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    label         TEXT NOT NULL,
    started_by    TEXT NOT NULL,
    node          TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL,
    finished_at   INTEGER,
    total         INTEGER NOT NULL DEFAULT 0,
    reinspected   INTEGER NOT NULL DEFAULT 0,
    unchanged     INTEGER NOT NULL DEFAULT 0,
    unreadable    INTEGER NOT NULL DEFAULT 0,
    kept          INTEGER NOT NULL DEFAULT 0,
    error         TEXT
);
-- At most one running job of a kind, across all nodes.
CREATE UNIQUE INDEX jobs_one_running ON jobs (kind) WHERE finished_at IS NULL;
CREATE INDEX jobs_latest ON jobs (kind, id);
