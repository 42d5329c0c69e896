-- Per-batch pre-aggregates of staged Cost and Usage rows: each part of an open batch is summed when it is
-- staged, in the transaction that stages it, keyed like cost_rollup_daily plus the batch. A replace_days or
-- append commit then maintains cost_rollup_daily from these few rows instead of aggregating the whole batch
-- inside the commit (storage/rollups.py). They are dropped wherever staged rows are dropped and at the
-- commit; the table holds nothing but sums of rows that are themselves kept, so no user data lives here.
CREATE TABLE staged_rollup_daily (
    batch_id      VARCHAR NOT NULL,      -- the open batch whose staged rows these sum
    workspace_id  VARCHAR NOT NULL,
    provider_id   VARCHAR NOT NULL,
    day           DATE NOT NULL,         -- UTC day of ChargePeriodStart (charge_day of the rows)
    "BillingCurrency" VARCHAR,
    "BillingPeriodStart" TIMESTAMP,
    "BillingPeriodEnd" TIMESTAMP,
    "ProviderName" VARCHAR,
    "ServiceProviderName" VARCHAR,
    "HostProviderName" VARCHAR,
    "InvoiceIssuerName" VARCHAR,
    "PublisherName" VARCHAR,
    "BillingAccountId" VARCHAR,
    "BillingAccountName" VARCHAR,
    "SubAccountId" VARCHAR,
    "SubAccountName" VARCHAR,
    "RegionId" VARCHAR,
    "RegionName" VARCHAR,
    "ServiceName" VARCHAR,
    "ServiceCategory" VARCHAR,
    "ServiceSubcategory" VARCHAR,
    "ChargeCategory" VARCHAR,
    "ChargeClass" VARCHAR,
    "ChargeFrequency" VARCHAR,
    "PricingCategory" VARCHAR,
    "CommitmentDiscountId" VARCHAR,
    "CommitmentDiscountName" VARCHAR,
    "CommitmentDiscountCategory" VARCHAR,
    "CommitmentDiscountType" VARCHAR,
    "CommitmentDiscountStatus" VARCHAR,
    "ResourceType" VARCHAR,
    "ConsumedUnit" VARCHAR,
    "PricingUnit" VARCHAR,
    "BilledCost" DECIMAL(38, 12),
    "EffectiveCost" DECIMAL(38, 12),
    "ListCost" DECIMAL(38, 12),
    "ContractedCost" DECIMAL(38, 12),
    "ConsumedQuantity" DECIMAL(38, 12),
    "PricingQuantity" DECIMAL(38, 12),
    row_count     BIGINT NOT NULL
);
