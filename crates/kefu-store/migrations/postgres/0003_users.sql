-- People and systems that use kefu: users with a role, password logins
-- (argon2id, PHC strings), API tokens and login sessions. Tokens and
-- session ids are random 32-byte values shown once; only their SHA-256
-- (hex) is stored. Times are Unix milliseconds (UTC); flags are 0/1.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,      -- login name; agents use their agent_id
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,         -- agent | inspector | supervisor | admin
    team           TEXT,
    password_hash  TEXT,                  -- argon2 PHC string; NULL: token-only account
    active         BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id            BIGSERIAL PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,   -- SHA-256 of the token, hex
    prefix        TEXT NOT NULL,          -- first 8 characters, to tell tokens apart
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,         -- SHA-256 of the session token, hex
    user_id     TEXT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
