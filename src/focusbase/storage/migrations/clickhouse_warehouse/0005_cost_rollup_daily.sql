-- Daily pre-aggregate of Cost and Usage rows per day-batch, fed by a materialized view on every insert into
-- cost_rows (staged parts and the survivors a replace copies in). Rows are keyed by day_batch, so reads apply
-- the same live filter as row reads and a commit, replace, revert or provider delete recomputes nothing.
-- Sums are Decimal256 (ClickHouse does not check Decimal overflow; reads check the DECIMAL(38, 12) range).
-- SummingMergeTree folds rows of one key in background merges; reads still sum, so merges change no answer.
CREATE TABLE cost_rollup_daily (
    workspace_id  LowCardinality(String),
    day_batch     UInt64,
    provider_id   LowCardinality(String),
    charge_day    Date,
    "BillingCurrency" LowCardinality(Nullable(String)),
    "ServiceName" LowCardinality(Nullable(String)),
    "ServiceCategory" LowCardinality(Nullable(String)),
    "RegionId" LowCardinality(Nullable(String)),
    "SubAccountId" Nullable(String),
    "ChargeCategory" LowCardinality(Nullable(String)),
    row_count     UInt64,
    "BilledCost" Decimal256(12),
    "EffectiveCost" Decimal256(12),
    "ListCost" Decimal256(12),
    "ContractedCost" Decimal256(12)
) ENGINE = SummingMergeTree((row_count, "BilledCost", "EffectiveCost", "ListCost", "ContractedCost"))
ORDER BY (workspace_id, day_batch, provider_id, charge_day, "BillingCurrency", "ServiceName", "ServiceCategory",
          "RegionId", "SubAccountId", "ChargeCategory")
SETTINGS allow_nullable_key = 1, non_replicated_deduplication_window = 10000;

-- The backfill of rows stored before this migration. The table holds only sums of rows that are kept, so
-- emptying it first makes a re-run after a crash give the same answer; it runs at start, before any insert.
TRUNCATE TABLE cost_rollup_daily;

INSERT INTO cost_rollup_daily SELECT workspace_id, day_batch, provider_id, charge_day, "BillingCurrency",
    "ServiceName", "ServiceCategory", "RegionId", "SubAccountId", "ChargeCategory", count(),
    sum(toDecimal256(ifNull("BilledCost", 0), 12)), sum(toDecimal256(ifNull("EffectiveCost", 0), 12)),
    sum(toDecimal256(ifNull("ListCost", 0), 12)), sum(toDecimal256(ifNull("ContractedCost", 0), 12))
FROM cost_rows GROUP BY ALL;

CREATE MATERIALIZED VIEW IF NOT EXISTS cost_rollup_daily_mv TO cost_rollup_daily AS
SELECT workspace_id, day_batch, provider_id, charge_day, "BillingCurrency",
    "ServiceName", "ServiceCategory", "RegionId", "SubAccountId", "ChargeCategory", count() AS row_count,
    sum(toDecimal256(ifNull("BilledCost", 0), 12)) AS "BilledCost",
    sum(toDecimal256(ifNull("EffectiveCost", 0), 12)) AS "EffectiveCost",
    sum(toDecimal256(ifNull("ListCost", 0), 12)) AS "ListCost",
    sum(toDecimal256(ifNull("ContractedCost", 0), 12)) AS "ContractedCost"
FROM cost_rows GROUP BY ALL
