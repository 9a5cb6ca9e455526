-- Mystery customers (神秘客户): score sheets (versioned), plans of test
-- contacts and the shops recorded against them, reviewed before they
-- count. Times are Unix milliseconds (UTC).

-- A score sheet version: its sections and items are a JSON document
-- (title, weight, critical flag, optional inspection rule id per item).
-- Saving a sheet again adds the next version; plans and shops name the
-- version they used.
CREATE TABLE mystery_sheets (
    id          TEXT NOT NULL,
    version     BIGINT NOT NULL,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,                   -- JSON: {"sections": [...]}
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE mystery_plans (
    id             TEXT PRIMARY KEY,             -- MP-YYYYMMDD-NNNNNN
    version        BIGINT NOT NULL,
    title          TEXT NOT NULL,
    scenario       TEXT NOT NULL,
    persona        TEXT NOT NULL,
    script         TEXT NOT NULL,                -- what the shopper says and asks
    target_kind    TEXT NOT NULL CHECK (target_kind IN ('agent', 'team')),
    target         TEXT NOT NULL,                -- a user id or a team name
    channel        TEXT NOT NULL,                -- phone, chat, email, …
    window_from    BIGINT NOT NULL,
    window_to      BIGINT NOT NULL,
    sheet_id       TEXT NOT NULL,
    sheet_version  BIGINT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('draft', 'active', 'closed')),
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    FOREIGN KEY (sheet_id, sheet_version) REFERENCES mystery_sheets (id, version)
);
CREATE INDEX mystery_plans_created ON mystery_plans (created_at, id);

CREATE TABLE mystery_shops (
    id               TEXT PRIMARY KEY,           -- MS-YYYYMMDD-NNNNNN
    version          BIGINT NOT NULL,
    plan_id          TEXT NOT NULL REFERENCES mystery_plans (id),
    sheet_id         TEXT NOT NULL,
    sheet_version    BIGINT NOT NULL,
    chain_id         TEXT NOT NULL,              -- the first shop of a re-shop chain (itself when none)
    previous_id      TEXT REFERENCES mystery_shops (id),
    shopper_id       TEXT NOT NULL,              -- the user who recorded it
    shopper_name     TEXT,                       -- an external shopper, when not the user
    shopped_at       BIGINT NOT NULL,
    agent_id         TEXT,
    conversation_id  TEXT REFERENCES conversations (id),
    results          TEXT NOT NULL,              -- JSON: [{"item","verdict","note"}]
    score            DOUBLE PRECISION NOT NULL,
    critical_failed  BIGINT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('submitted', 'approved', 'returned')),
    reviewed_by      TEXT,
    reviewed_at      BIGINT,
    return_reason    TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX mystery_shops_state ON mystery_shops (state, created_at, id);
CREATE INDEX mystery_shops_plan ON mystery_shops (plan_id, created_at, id);
CREATE INDEX mystery_shops_agent ON mystery_shops (agent_id, shopped_at) WHERE state = 'approved';
CREATE INDEX mystery_shops_approved ON mystery_shops (shopped_at) WHERE state = 'approved';
-- A shop is re-shopped at most once.
CREATE UNIQUE INDEX mystery_shops_one_reshop ON mystery_shops (previous_id) WHERE previous_id IS NOT NULL;
