-- Export jobs: one row per requested export. Files live under <data_dir>/exports/<job id>/.
CREATE TABLE export_jobs (
    id               TEXT PRIMARY KEY,        -- exp_...
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    key_id           TEXT,                    -- the key that asked for it
    provider_ids     TEXT,                    -- JSON array: the key's provider scope, or NULL for all
    request          TEXT NOT NULL,           -- JSON: the normalised export request (window, format, filters)
    status           TEXT NOT NULL,           -- Pending, Processing, Complete, Failed
    attempts         BIGINT NOT NULL DEFAULT 0,
    total_rows       BIGINT,                 -- rows in scope when the job started (for progress)
    rows_written     BIGINT NOT NULL DEFAULT 0,
    record_count     BIGINT,                 -- rows in the finished file(s)
    record_counts    TEXT,                    -- JSON: rows per FOCUS dataset
    file_name        TEXT,                    -- download file name (inside the job folder)
    file_size        BIGINT,
    error            TEXT,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    completed_at     TEXT,
    expires_at       TEXT,                    -- when the file is deleted (completed_at + export_ttl_days)
    expired_at       TEXT                     -- set once the file has been deleted
);
CREATE INDEX export_jobs_workspace ON export_jobs(workspace_id, created_at);
CREATE INDEX export_jobs_status ON export_jobs(status);
