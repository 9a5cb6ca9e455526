-- Background jobs the dashboard starts (re-inspection with the active pack),
-- in the database so every node shows their progress and a second start
-- is refused while one runs, whichever node runs it. Times are Unix ms;
-- `heartbeat_at` is refreshed while the job runs, so a job whose node died
-- can be recognised (and is marked abandoned by the next start).
CREATE TABLE jobs (
    id            BIGSERIAL PRIMARY KEY,
    kind          TEXT NOT NULL,
    label         TEXT NOT NULL,
    started_by    TEXT NOT NULL,
    node          TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL,
    finished_at   BIGINT,
    total         BIGINT NOT NULL DEFAULT 0,
    reinspected   BIGINT NOT NULL DEFAULT 0,
    unchanged     BIGINT NOT NULL DEFAULT 0,
    unreadable    BIGINT NOT NULL DEFAULT 0,
    kept          BIGINT NOT NULL DEFAULT 0,
    error         TEXT
);
-- At most one running job of a kind, across all nodes.
CREATE UNIQUE INDEX jobs_one_running ON jobs (kind) WHERE finished_at IS NULL;
CREATE INDEX jobs_latest ON jobs (kind, id);
