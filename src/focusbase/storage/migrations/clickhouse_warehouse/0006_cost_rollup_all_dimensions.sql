-- The daily rollup on every dimension DuckDB's cost_rollup_daily keeps (storage/rollups.py DIMENSIONS: the
-- currency and 28 more) and its six measures, replacing the five-dimension table of 0005. A SummingMergeTree
-- folds rows whose whole sorting key is equal, so every dimension is in the key. The view is dropped first
-- (nothing feeds the old table meanwhile), then the table, which holds only sums of rows that are kept, then
-- both are created again and the table is refilled from the stored rows. Each statement is idempotent, so a
-- re-run after a crash at any point gives the same rollup. It runs at start, before any insert.
DROP VIEW IF EXISTS cost_rollup_daily_mv;

DROP TABLE IF EXISTS cost_rollup_daily;

CREATE TABLE cost_rollup_daily (
    workspace_id  LowCardinality(String),
    day_batch     UInt64,
    provider_id   LowCardinality(String),
    charge_day    Date,
    "BillingCurrency" LowCardinality(Nullable(String)),
    "BillingPeriodStart" Nullable(DateTime64(6, 'UTC')),
    "BillingPeriodEnd" Nullable(DateTime64(6, 'UTC')),
    "ProviderName" LowCardinality(Nullable(String)),
    "ServiceProviderName" LowCardinality(Nullable(String)),
    "HostProviderName" LowCardinality(Nullable(String)),
    "InvoiceIssuerName" LowCardinality(Nullable(String)),
    "PublisherName" LowCardinality(Nullable(String)),
    "BillingAccountId" Nullable(String),
    "BillingAccountName" Nullable(String),
    "SubAccountId" Nullable(String),
    "SubAccountName" Nullable(String),
    "RegionId" LowCardinality(Nullable(String)),
    "RegionName" LowCardinality(Nullable(String)),
    "ServiceName" LowCardinality(Nullable(String)),
    "ServiceCategory" LowCardinality(Nullable(String)),
    "ServiceSubcategory" LowCardinality(Nullable(String)),
    "ChargeCategory" LowCardinality(Nullable(String)),
    "ChargeClass" LowCardinality(Nullable(String)),
    "ChargeFrequency" LowCardinality(Nullable(String)),
    "PricingCategory" LowCardinality(Nullable(String)),
    "CommitmentDiscountId" Nullable(String),
    "CommitmentDiscountName" Nullable(String),
    "CommitmentDiscountCategory" LowCardinality(Nullable(String)),
    "CommitmentDiscountType" LowCardinality(Nullable(String)),
    "CommitmentDiscountStatus" LowCardinality(Nullable(String)),
    "ResourceType" LowCardinality(Nullable(String)),
    "ConsumedUnit" LowCardinality(Nullable(String)),
    "PricingUnit" LowCardinality(Nullable(String)),
    row_count     UInt64,
    "BilledCost" Decimal256(12),
    "EffectiveCost" Decimal256(12),
    "ListCost" Decimal256(12),
    "ContractedCost" Decimal256(12),
    "ConsumedQuantity" Decimal256(12),
    "PricingQuantity" Decimal256(12)
) ENGINE = SummingMergeTree(
    (row_count, "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity",
     "PricingQuantity")
)
ORDER BY (
    workspace_id, day_batch, provider_id, charge_day, "BillingCurrency", "BillingPeriodStart",
    "BillingPeriodEnd", "ProviderName", "ServiceProviderName", "HostProviderName", "InvoiceIssuerName",
    "PublisherName", "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName", "RegionId",
    "RegionName", "ServiceName", "ServiceCategory", "ServiceSubcategory", "ChargeCategory", "ChargeClass",
    "ChargeFrequency", "PricingCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountCategory", "CommitmentDiscountType", "CommitmentDiscountStatus", "ResourceType",
    "ConsumedUnit", "PricingUnit"
)
SETTINGS allow_nullable_key = 1, non_replicated_deduplication_window = 10000;

INSERT INTO cost_rollup_daily SELECT
    workspace_id, day_batch, provider_id, charge_day, "BillingCurrency", "BillingPeriodStart",
    "BillingPeriodEnd", "ProviderName", "ServiceProviderName", "HostProviderName", "InvoiceIssuerName",
    "PublisherName", "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName", "RegionId",
    "RegionName", "ServiceName", "ServiceCategory", "ServiceSubcategory", "ChargeCategory", "ChargeClass",
    "ChargeFrequency", "PricingCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountCategory", "CommitmentDiscountType", "CommitmentDiscountStatus", "ResourceType",
    "ConsumedUnit", "PricingUnit", count() AS row_count,
    sum(toDecimal256(ifNull("BilledCost", 0), 12)) AS "BilledCost",
    sum(toDecimal256(ifNull("EffectiveCost", 0), 12)) AS "EffectiveCost",
    sum(toDecimal256(ifNull("ListCost", 0), 12)) AS "ListCost",
    sum(toDecimal256(ifNull("ContractedCost", 0), 12)) AS "ContractedCost",
    sum(toDecimal256(ifNull("ConsumedQuantity", 0), 12)) AS "ConsumedQuantity",
    sum(toDecimal256(ifNull("PricingQuantity", 0), 12)) AS "PricingQuantity"
FROM cost_rows GROUP BY ALL;

CREATE MATERIALIZED VIEW IF NOT EXISTS cost_rollup_daily_mv TO cost_rollup_daily AS SELECT
    workspace_id, day_batch, provider_id, charge_day, "BillingCurrency", "BillingPeriodStart",
    "BillingPeriodEnd", "ProviderName", "ServiceProviderName", "HostProviderName", "InvoiceIssuerName",
    "PublisherName", "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName", "RegionId",
    "RegionName", "ServiceName", "ServiceCategory", "ServiceSubcategory", "ChargeCategory", "ChargeClass",
    "ChargeFrequency", "PricingCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountCategory", "CommitmentDiscountType", "CommitmentDiscountStatus", "ResourceType",
    "ConsumedUnit", "PricingUnit", count() AS row_count,
    sum(toDecimal256(ifNull("BilledCost", 0), 12)) AS "BilledCost",
    sum(toDecimal256(ifNull("EffectiveCost", 0), 12)) AS "EffectiveCost",
    sum(toDecimal256(ifNull("ListCost", 0), 12)) AS "ListCost",
    sum(toDecimal256(ifNull("ContractedCost", 0), 12)) AS "ContractedCost",
    sum(toDecimal256(ifNull("ConsumedQuantity", 0), 12)) AS "ConsumedQuantity",
    sum(toDecimal256(ifNull("PricingQuantity", 0), 12)) AS "PricingQuantity"
FROM cost_rows GROUP BY ALL
