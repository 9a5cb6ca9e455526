-- Customers (客户档案): the 十问 profile and the rest of the archive as a JSON
-- document, with copies of what lists, grading and the follow-up queue
-- filter on. Times are Unix ms; money is in fen (cents).
CREATE TABLE customers (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    owner_id         TEXT,
    grade            TEXT NOT NULL,
    grade_manual     BIGINT NOT NULL,
    profile          TEXT NOT NULL,
    do_not_disturb   BIGINT NOT NULL,
    last_contact_at  BIGINT,
    next_due_at      BIGINT,
    merged_into      TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL
);
CREATE INDEX customers_owner_due ON customers (owner_id, next_due_at) WHERE merged_into IS NULL;
CREATE INDEX customers_grade ON customers (grade, name, id) WHERE merged_into IS NULL;

-- Identity keys: phones, the native customer id, vendor ids, shop nicks.
-- One customer per key.
CREATE TABLE customer_keys (
    kind         TEXT NOT NULL,
    value        TEXT NOT NULL,
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    PRIMARY KEY (kind, value)
);
CREATE INDEX customer_keys_customer ON customer_keys (customer_id);

CREATE TABLE customer_tags (
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    tag          TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags (tag);

-- Typed custom fields: kind is text, number, date or select.
CREATE TABLE customer_fields (
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (customer_id, name)
);

CREATE TABLE customer_purchases (
    id            BIGSERIAL PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id),
    item          TEXT NOT NULL,
    bought_on     TEXT NOT NULL,
    amount_cents  BIGINT NOT NULL
);
CREATE INDEX customer_purchases_customer ON customer_purchases (customer_id);

-- Important dates: solar (year optional) or lunar (with the leap-month flag).
CREATE TABLE customer_dates (
    id           BIGSERIAL PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    label        TEXT NOT NULL,
    calendar     TEXT NOT NULL,
    year         BIGINT,
    month        BIGINT NOT NULL,
    day          BIGINT NOT NULL,
    leap         BIGINT NOT NULL,
    remind_days  BIGINT NOT NULL
);
CREATE INDEX customer_dates_customer ON customer_dates (customer_id);

-- Every real contact: imported calls and chats, complaint activity,
-- surveys, revisits, logged outbound contacts and care contacts. A source
-- is recorded once, so linking on import is idempotent.
CREATE TABLE customer_contacts (
    id           BIGSERIAL PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    at           BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    source       TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    agent_id     TEXT,
    agent_name   TEXT,
    outcome      TEXT,
    note         TEXT,
    UNIQUE (source, source_id)
);
CREATE INDEX customer_contacts_customer ON customer_contacts (customer_id, at);
CREATE INDEX customer_contacts_agent ON customer_contacts (agent_id, customer_id);

-- Grade history: rules or manual override with a reason.
CREATE TABLE customer_grades (
    id           BIGSERIAL PRIMARY KEY,
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    at           BIGINT NOT NULL,
    grade        TEXT NOT NULL,
    source       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    actor_id     TEXT NOT NULL
);
CREATE INDEX customer_grades_customer ON customer_grades (customer_id, id);

-- Merges: what moved from the merged customer to the kept one, so a merge
-- can be undone.
CREATE TABLE customer_merges (
    id           BIGSERIAL PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor_id     TEXT NOT NULL,
    kept_id      TEXT NOT NULL REFERENCES customers (id),
    merged_id    TEXT NOT NULL REFERENCES customers (id),
    moved        TEXT NOT NULL,
    undone_at    BIGINT,
    undone_by    TEXT
);
CREATE INDEX customer_merges_kept ON customer_merges (kept_id);
CREATE INDEX customer_merges_merged ON customer_merges (merged_id);

-- The timeline finds a customer's complaints by the customer id they carry.
CREATE INDEX complaints_customer ON complaints (customer_id);
