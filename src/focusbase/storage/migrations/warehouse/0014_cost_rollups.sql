-- Daily rollups of live Cost and Usage rows (storage/rollups.py keeps them exact at every commit, revert and
-- provider delete) and the workspace's currency conversion rates. The rollup is filled by a deterministic
-- rebuild from live_cost_rows when the warehouse opens (recorded in rollup_builds), so a data directory
-- created before this migration gets its rollups without losing or changing any row.
CREATE TABLE cost_rollup_daily (
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

CREATE TABLE rollup_builds (
    version   INTEGER PRIMARY KEY,      -- storage.rollups.ROLLUP_VERSION the rollup was built for
    built_at  TIMESTAMP NOT NULL,
    rows      BIGINT NOT NULL
);

CREATE TABLE fx_rates (
    workspace_id   VARCHAR NOT NULL,
    day            DATE NOT NULL,
    from_currency  VARCHAR NOT NULL,
    to_currency    VARCHAR NOT NULL,
    rate           DECIMAL(38, 10) NOT NULL     -- one per (workspace, day, from, to): the upload checks it
);
