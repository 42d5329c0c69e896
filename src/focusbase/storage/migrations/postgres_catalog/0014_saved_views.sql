-- Saved explorer views: a named explorer query owned by a workspace (any key of it may run one).
CREATE TABLE saved_views (
    id            TEXT PRIMARY KEY,        -- view_...
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    query         TEXT NOT NULL,           -- JSON: the canonical explorer query (analytics.model)
    key_id        TEXT,                    -- the key that created it
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (workspace_id, name)
);
