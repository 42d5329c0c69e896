-- Catalog (PostgreSQL): the twin of catalog/0001_init.sql for FOCUSBASE_CATALOG_URL. Every catalog migration has
-- a twin here with the same number; INTEGER becomes BIGINT (SQLite integers are 64-bit) and REAL becomes
-- DOUBLE PRECISION (SQLite reals are 8 bytes), so values round-trip the same on both engines.
CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,            -- key_..., also embedded in the key text
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,               -- 'api' (scoped) or 'ingest' (one provider)
    scopes        TEXT NOT NULL,               -- JSON array: admin, read, ingest
    provider_ids  TEXT,                        -- JSON array or NULL (all providers of the workspace)
    secret_hash   TEXT NOT NULL,               -- sha256 hex of the secret part; the key itself is never stored
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_keys_workspace ON api_keys(workspace_id);

CREATE TABLE providers (
    id                TEXT PRIMARY KEY,        -- prv_...; also the connectionId of the ingest URL
    workspace_id      TEXT NOT NULL REFERENCES workspaces(id),
    name              TEXT NOT NULL,
    default_currency  TEXT NOT NULL,
    ingest_key_id     TEXT REFERENCES api_keys(id),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    deleted_at        TEXT
);
CREATE INDEX providers_workspace ON providers(workspace_id);

CREATE TABLE provider_mappings (
    provider_id  TEXT PRIMARY KEY REFERENCES providers(id),
    mapping      TEXT NOT NULL,                -- JSON
    updated_at   TEXT NOT NULL
);

CREATE TABLE period_finalizations (
    provider_id   TEXT NOT NULL REFERENCES providers(id),
    period        TEXT NOT NULL,               -- YYYY-MM
    finalized_at  TEXT NOT NULL,
    PRIMARY KEY (provider_id, period)
);
