-- Budgets: monthly amounts in one currency for a scope, thresholds, and the record of each threshold fired.
CREATE TABLE budgets (
    id            TEXT PRIMARY KEY,              -- bud_...
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    scope_kind    TEXT NOT NULL,                 -- provider (view once saved views exist)
    scope_id      TEXT NOT NULL,
    currency      TEXT NOT NULL,                 -- ISO 4217; a budget never sums across currencies
    cost_column   TEXT NOT NULL,                 -- BilledCost or EffectiveCost
    thresholds    TEXT NOT NULL,                 -- JSON array of {kind, percent | probability}
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE INDEX budgets_scope ON budgets(scope_kind, scope_id);

CREATE TABLE budget_amounts (
    budget_id  TEXT NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
    period     TEXT NOT NULL,                    -- YYYY-MM
    amount     TEXT NOT NULL,                    -- exact decimal text
    PRIMARY KEY (budget_id, period)
);

-- One row per (budget, period, threshold) that fired: the key that makes each fire once.
CREATE TABLE budget_crossings (
    budget_id   TEXT NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
    period      TEXT NOT NULL,
    threshold   TEXT NOT NULL,                   -- actual:80, forecast:0.5
    crossed_at  TEXT NOT NULL,
    actual      TEXT NOT NULL,
    projected   TEXT NOT NULL,
    event_id    TEXT,
    PRIMARY KEY (budget_id, period, threshold)
);
