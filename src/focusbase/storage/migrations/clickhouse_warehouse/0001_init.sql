-- Warehouse (ClickHouse, scale-out prototype; docs/scaling.md). Rows are immutable once inserted: a commit,
-- replace or revert is one INSERT block into live_day_batches, which ClickHouse applies atomically (one block,
-- one partition: that table is not partitioned). Money is Decimal(38, 12) as in DuckDB; sums accumulate in
-- Decimal256. Single-node engines (chDB, tests); a cluster uses the Replicated engines of the same shape.
CREATE TABLE cost_rows (
    workspace_id  LowCardinality(String),
    provider_id   LowCardinality(String),
    batch_id      String,
    batch_seq     UInt32,              -- the batch's number, from the catalog when the batch is created
    day_batch     UInt64,              -- (batch_seq << 20) | days since 1970-01-01 of charge_day: the visibility key
    row_id        UInt64,              -- (batch_seq << 32) | row number in the batch: the keyset
    charge_day    Date,                -- UTC day of ChargePeriodStart (1970-01-01 without one)
    "AllocatedMethodId" Nullable(String),
    "AllocatedMethodDetails" Nullable(String),
    "AllocatedResourceId" Nullable(String),
    "AllocatedResourceName" Nullable(String),
    "AllocatedTags" Nullable(String),
    "AvailabilityZone" LowCardinality(Nullable(String)),
    "BilledCost" Nullable(Decimal(38, 12)),
    "BillingAccountId" Nullable(String),
    "BillingAccountName" Nullable(String),
    "BillingAccountType" LowCardinality(Nullable(String)),
    "BillingCurrency" LowCardinality(Nullable(String)),
    "BillingPeriodEnd" Nullable(DateTime64(6, 'UTC')),
    "BillingPeriodStart" Nullable(DateTime64(6, 'UTC')),
    "CapacityReservationId" Nullable(String),
    "CapacityReservationStatus" LowCardinality(Nullable(String)),
    "ChargeCategory" LowCardinality(Nullable(String)),
    "ChargeClass" LowCardinality(Nullable(String)),
    "ChargeDescription" Nullable(String),
    "ChargeFrequency" LowCardinality(Nullable(String)),
    "ChargePeriodEnd" Nullable(DateTime64(6, 'UTC')),
    "ChargePeriodStart" Nullable(DateTime64(6, 'UTC')),
    "CommitmentDiscountCategory" LowCardinality(Nullable(String)),
    "CommitmentDiscountId" Nullable(String),
    "CommitmentDiscountName" Nullable(String),
    "CommitmentDiscountQuantity" Nullable(Decimal(38, 12)),
    "CommitmentDiscountStatus" LowCardinality(Nullable(String)),
    "CommitmentDiscountType" LowCardinality(Nullable(String)),
    "CommitmentDiscountUnit" LowCardinality(Nullable(String)),
    "ConsumedQuantity" Nullable(Decimal(38, 12)),
    "ConsumedUnit" LowCardinality(Nullable(String)),
    "ContractApplied" Nullable(String),
    "ContractedCost" Nullable(Decimal(38, 12)),
    "ContractedUnitPrice" Nullable(Decimal(38, 12)),
    "EffectiveCost" Nullable(Decimal(38, 12)),
    "HostProviderName" LowCardinality(Nullable(String)),
    "InvoiceId" Nullable(String),
    "InvoiceIssuerName" LowCardinality(Nullable(String)),
    "ListCost" Nullable(Decimal(38, 12)),
    "ListUnitPrice" Nullable(Decimal(38, 12)),
    "PricingCategory" LowCardinality(Nullable(String)),
    "PricingCurrency" LowCardinality(Nullable(String)),
    "PricingCurrencyContractedUnitPrice" Nullable(Decimal(38, 12)),
    "PricingCurrencyEffectiveCost" Nullable(Decimal(38, 12)),
    "PricingCurrencyListUnitPrice" Nullable(Decimal(38, 12)),
    "PricingQuantity" Nullable(Decimal(38, 12)),
    "PricingUnit" LowCardinality(Nullable(String)),
    "ProviderName" LowCardinality(Nullable(String)),
    "PublisherName" LowCardinality(Nullable(String)),
    "RegionId" LowCardinality(Nullable(String)),
    "RegionName" LowCardinality(Nullable(String)),
    "ResourceId" Nullable(String),
    "ResourceName" Nullable(String),
    "ResourceType" LowCardinality(Nullable(String)),
    "ServiceProviderName" LowCardinality(Nullable(String)),
    "ServiceCategory" LowCardinality(Nullable(String)),
    "ServiceName" LowCardinality(Nullable(String)),
    "ServiceSubcategory" LowCardinality(Nullable(String)),
    "SkuId" Nullable(String),
    "SkuMeter" Nullable(String),
    "SkuPriceDetails" Nullable(String),
    "SkuPriceId" Nullable(String),
    "SubAccountId" Nullable(String),
    "SubAccountName" Nullable(String),
    "SubAccountType" LowCardinality(Nullable(String)),
    "Tags" Nullable(String),
    x_columns     Nullable(String),    -- custom x_ columns of the row, a JSON object of strings
    -- Tags are served verbatim from the text above; this Map is for grouping by a tag. Values stay JSON
    -- literals ('"prod"' and 'true' differ), so a string and a boolean are never conflated.
    tags_kv       Map(LowCardinality(String), String) MATERIALIZED
        CAST(JSONExtractKeysAndValuesRaw(ifNull("Tags", '{}')), 'Map(LowCardinality(String), String)')
) ENGINE = MergeTree
PARTITION BY toYYYYMM(charge_day)
ORDER BY (workspace_id, row_id)
-- Staging a part twice with the same insert_deduplication_token stores it once (a retry after an unknown
-- outcome); replicated tables deduplicate by default, a single node needs the window set.
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE live_day_batches (
    workspace_id  LowCardinality(String),
    provider_id   LowCardinality(String),
    charge_day    Date,
    day_batch     UInt64,
    batch_id      String,              -- the batch whose rows the day-batch holds
    changed_by    String,              -- the batch (or revert) whose commit wrote this version
    commit_seq    UInt64,              -- version: the provider's commits in order
    is_deleted    UInt8                -- 1: the day-batch is no longer live
) ENGINE = ReplacingMergeTree(commit_seq, is_deleted)
ORDER BY (workspace_id, day_batch)
SETTINGS non_replicated_deduplication_window = 10000;
