-- Notifications: an outbox of events (escalations, SLA near-breaches,
-- revisits and follow-ups due, appeal decisions, feedback assignments),
-- written in the transaction of the event, and their deliveries, one row per
-- (notification, recipient, channel) so that several kefu nodes on one
-- database deliver each at most once. Times are Unix milliseconds (UTC).

-- Users get an e-mail address for the e-mail channel (set by an admin).
ALTER TABLE users ADD COLUMN email TEXT;

CREATE TABLE notifications (
    id           BIGSERIAL PRIMARY KEY,
    event        TEXT NOT NULL,                 -- complaint.escalated, sla.near_breach, ...
    object_kind  TEXT NOT NULL,                 -- complaint, revisit, customer, appeal, feedback
    object_id    TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    link         TEXT NOT NULL,                 -- dashboard path of the object
    summary      TEXT NOT NULL,                 -- JSON object: the object summary of webhooks
    recipients   TEXT NOT NULL,                 -- JSON array of user ids, resolved at the event
    dedupe_key   TEXT UNIQUE,                   -- events found by scans: once per key
    created_at   BIGINT NOT NULL,
    expanded_at   BIGINT                       -- deliveries created
);
CREATE INDEX notifications_unexpanded ON notifications (id) WHERE expanded_at IS NULL;

CREATE TABLE webhook_endpoints (
    id          BIGSERIAL PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    events      TEXT NOT NULL,                  -- comma-separated event names, or '*'
    active      BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE notification_deliveries (
    id               BIGSERIAL PRIMARY KEY,
    notification_id  BIGINT NOT NULL REFERENCES notifications (id),
    channel          TEXT NOT NULL CHECK (channel IN ('inbox', 'email', 'webhook')),
    recipient        TEXT NOT NULL,             -- user id; webhooks: the endpoint id
    state            TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT,                   -- claimed by a node until then
    claimed_by       TEXT,
    status_code      BIGINT,                   -- webhooks: the last HTTP status
    last_error       TEXT,
    delivered_at     BIGINT,
    read_at          BIGINT,                   -- inbox: read by the user
    created_at       BIGINT NOT NULL,
    UNIQUE (notification_id, recipient, channel)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX notification_inbox ON notification_deliveries (recipient, id) WHERE channel = 'inbox';
CREATE INDEX notification_unread ON notification_deliveries (recipient) WHERE channel = 'inbox' AND read_at IS NULL;
CREATE INDEX notification_log ON notification_deliveries (channel, id);
