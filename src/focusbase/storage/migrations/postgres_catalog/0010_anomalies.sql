-- Cost anomalies: one row per detected event of a scope (provider, or one ServiceName, SubAccountId or
-- RegionId value of a provider) and currency. Amounts are decimal text; dates are UTC days (YYYY-MM-DD).
CREATE TABLE anomalies (
    id                 TEXT PRIMARY KEY,        -- ano_...
    workspace_id       TEXT NOT NULL REFERENCES workspaces(id),
    provider_id        TEXT NOT NULL,
    dimension          TEXT NOT NULL,           -- provider, ServiceName, SubAccountId, RegionId
    value              TEXT NOT NULL,           -- the provider id, or the dimension's value
    currency           TEXT NOT NULL,           -- BillingCurrency
    start_date         TEXT NOT NULL,
    end_date           TEXT NOT NULL,
    detected_on        TEXT NOT NULL,
    kind               TEXT NOT NULL,           -- spike, drop, level_shift, drift, new_spend
    severity           TEXT NOT NULL,           -- Low, Medium, High, Critical
    direction          BIGINT NOT NULL,        -- 1 above the baseline, -1 below
    actual             TEXT NOT NULL,
    expected           TEXT NOT NULL,
    impact             TEXT NOT NULL,
    impact_percentage  TEXT,                    -- NULL when nothing was expected (new spend)
    max_z              DOUBLE PRECISION NOT NULL,
    ongoing            BIGINT NOT NULL,
    contributors       TEXT NOT NULL,           -- JSON: the top child dimensions and their share
    state              TEXT NOT NULL,           -- New, Acknowledged, Resolved, False positive, Dismissed
    state_changed_by   TEXT,                    -- key id
    state_changed_at   TEXT,
    note               TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (workspace_id, provider_id, dimension, value, currency, start_date)
);
CREATE INDEX anomalies_listing ON anomalies(workspace_id, start_date, id);
