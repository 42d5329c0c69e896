-- Anomaly detection waiting to run: a commit queues its provider (and a saved view change its view), and the
-- row stays until that detection has run, so a restart or a crash in the quiet period before it loses none.
CREATE TABLE anomaly_detection_queue (
    workspace_id  TEXT NOT NULL,
    kind          TEXT NOT NULL,               -- provider, view
    scope_id      TEXT NOT NULL,               -- the provider or view id
    token         TEXT NOT NULL,               -- changes with every submission: a run deletes only its own
    queued_at     TEXT NOT NULL,               -- UTC, the latest submission
    PRIMARY KEY (workspace_id, kind, scope_id)
);
