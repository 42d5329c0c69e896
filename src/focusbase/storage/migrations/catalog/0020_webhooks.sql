-- Webhook endpoints, the durable outbox of events and their deliveries, and the delivery log.
CREATE TABLE webhook_endpoints (
    id                        TEXT PRIMARY KEY,     -- whk_...
    workspace_id              TEXT NOT NULL REFERENCES workspaces(id),
    url                       TEXT NOT NULL,
    description               TEXT NOT NULL DEFAULT '',
    events                    TEXT NOT NULL,        -- JSON array of subscribed event types
    enabled                   INTEGER NOT NULL DEFAULT 1,
    disabled_reason           TEXT,
    secret                    TEXT NOT NULL,        -- whsec_...; kept to sign, never returned after creation
    previous_secret           TEXT,                 -- still signs until previous_secret_expires_at
    previous_secret_expires_at TEXT,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints(workspace_id);

CREATE TABLE webhook_events (
    id            TEXT PRIMARY KEY,                 -- msg_...; the webhook-id of every delivery of it
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    type          TEXT NOT NULL,
    body          TEXT NOT NULL,                    -- the exact JSON body sent
    created_at    TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,              -- dlv_...
    event_id         TEXT NOT NULL REFERENCES webhook_events(id),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    status           TEXT NOT NULL,                 -- pending, succeeded, failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,                          -- due time while pending (also the lease of a send)
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);

CREATE TABLE webhook_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    endpoint_id      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    attempted_at     TEXT NOT NULL,
    status_code      INTEGER,                       -- NULL when no HTTP answer came (timeout, refused)
    duration_ms      INTEGER NOT NULL,
    response         TEXT,                          -- the start of the response body
    error            TEXT,
    outcome          TEXT NOT NULL,                 -- succeeded, retrying, failed, disabled
    next_attempt_at  TEXT
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(endpoint_id, id);
