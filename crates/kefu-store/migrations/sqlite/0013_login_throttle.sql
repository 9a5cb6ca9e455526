-- Failed sign-ins per account ('user:ID') and per client address
-- ('addr:IP'): the count since the last success and until when further
-- attempts are refused (Unix ms; exponential backoff).
CREATE TABLE login_throttle (
    key           TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_at       INTEGER NOT NULL,
    locked_until  INTEGER NOT NULL
);
