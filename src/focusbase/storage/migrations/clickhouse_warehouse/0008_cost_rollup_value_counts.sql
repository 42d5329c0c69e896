-- The daily rollup gains, per measure, how many of its rows had a value (count of non-NULL values): a sum over
-- rows that all lack the value is NULL, as DuckDB's sum answers, not the 0 the summed column holds. A
-- SummingMergeTree sums only the columns it names, so the table of 0006 is dropped and created again with the
-- counts (the view first: nothing feeds the old table meanwhile), then refilled from the stored rows. Each
-- statement is idempotent, so a re-run after a crash at any point gives the same rollup. It runs at start,
-- before any insert. The counts name the table's column (cost_rows."BilledCost"), not the sum of the same name.
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
    "PricingQuantity" Decimal256(12),
    "BilledCost_values" UInt64,
    "EffectiveCost_values" UInt64,
    "ListCost_values" UInt64,
    "ContractedCost_values" UInt64,
    "ConsumedQuantity_values" UInt64,
    "PricingQuantity_values" UInt64
) ENGINE = SummingMergeTree(
    (row_count, "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity",
     "PricingQuantity", "BilledCost_values", "EffectiveCost_values", "ListCost_values",
     "ContractedCost_values", "ConsumedQuantity_values", "PricingQuantity_values")
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
    sum(toDecimal256(ifNull("PricingQuantity", 0), 12)) AS "PricingQuantity",
    count(cost_rows."BilledCost") AS "BilledCost_values",
    count(cost_rows."EffectiveCost") AS "EffectiveCost_values",
    count(cost_rows."ListCost") AS "ListCost_values",
    count(cost_rows."ContractedCost") AS "ContractedCost_values",
    count(cost_rows."ConsumedQuantity") AS "ConsumedQuantity_values",
    count(cost_rows."PricingQuantity") AS "PricingQuantity_values"
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
    sum(toDecimal256(ifNull("PricingQuantity", 0), 12)) AS "PricingQuantity",
    count(cost_rows."BilledCost") AS "BilledCost_values",
    count(cost_rows."EffectiveCost") AS "EffectiveCost_values",
    count(cost_rows."ListCost") AS "ListCost_values",
    count(cost_rows."ContractedCost") AS "ContractedCost_values",
    count(cost_rows."ConsumedQuantity") AS "ConsumedQuantity_values",
    count(cost_rows."PricingQuantity") AS "PricingQuantity_values"
FROM cost_rows GROUP BY ALL
