-- State that API replicas share through the catalog (issue 17, docs/scaling.md): rate-limit buckets and
-- leader leases (used with a PostgreSQL catalog; the embedded profile keeps both in its one process), and a
-- lease on each claimed export job, so a job whose runner died is claimed again once its lease runs out.
CREATE TABLE rate_limit_buckets (
    limit_class  TEXT NOT NULL,                -- read, ingest
    identity     TEXT NOT NULL,                -- key:<key id> or addr:<client address>
    tokens       DOUBLE PRECISION NOT NULL,    -- requests left (refilled continuously)
    updated_at   DOUBLE PRECISION NOT NULL,    -- seconds since the epoch, the database's clock
    allowed      BIGINT NOT NULL DEFAULT 1,    -- whether the last request was allowed
    PRIMARY KEY (limit_class, identity)
);
CREATE INDEX rate_limit_buckets_updated ON rate_limit_buckets(updated_at);

CREATE TABLE leader_leases (
    name        TEXT PRIMARY KEY,              -- what the leader runs: background
    holder      TEXT NOT NULL,                 -- the holding process's id
    expires_at  DOUBLE PRECISION NOT NULL      -- seconds since the epoch, the database's clock
);

ALTER TABLE export_jobs ADD COLUMN claimed_by TEXT;        -- the runner process running it (Processing)
ALTER TABLE export_jobs ADD COLUMN lease_expires_at TEXT;  -- renewed while it runs; after it, claimable again
