-- Warehouse (DuckDB): ingest batches and the stored FOCUS rows. Money is DECIMAL(38, 12), times are UTC.
CREATE TABLE batches (
    id                  VARCHAR PRIMARY KEY,   -- bat_...
    workspace_id        VARCHAR NOT NULL,
    provider_id         VARCHAR NOT NULL,
    dataset             VARCHAR NOT NULL DEFAULT 'CostAndUsage',
    source              VARCHAR NOT NULL,      -- push, multipart, csv, parquet, json
    mode                VARCHAR NOT NULL,      -- replace_days, replace_range, replace_months, append
    window_start        TIMESTAMP,
    window_end          TIMESTAMP,
    status              VARCHAR NOT NULL,      -- received, validating, committed, failed, superseded, reverted
    rows_received       BIGINT NOT NULL DEFAULT 0,
    line_items_created  BIGINT NOT NULL DEFAULT 0,
    rows_rejected       BIGINT NOT NULL DEFAULT 0,
    replaced            JSON,                  -- {"rows": n, "sums": {currency: {BilledCost, EffectiveCost}}}
    sums                JSON,                  -- per currency sums of what the batch stored
    defaults_applied    JSON,                  -- which defaults filled which columns, with counts
    errors              JSON,                  -- first 100 row errors
    error_count         BIGINT NOT NULL DEFAULT 0,
    idempotency_key     VARCHAR,
    request_hash        VARCHAR,
    response            JSON,                  -- the response replayed for a repeated Idempotency-Key
    key_id              VARCHAR,
    file_name           VARCHAR,
    file_size           BIGINT,
    mapping             JSON,
    progress            JSON,
    failure_reason      VARCHAR,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    committed_at        TIMESTAMP,
    expires_at          TIMESTAMP
);

CREATE SEQUENCE cost_row_seq START 1;

CREATE TABLE cost_rows (
    row_seq       BIGINT NOT NULL,     -- unique, increasing in commit order: the keyset for pagination
    workspace_id  VARCHAR NOT NULL,
    provider_id   VARCHAR NOT NULL,
    batch_id      VARCHAR NOT NULL,
    superseded_by VARCHAR,             -- NULL while live; the batch (or revert) that replaced the row
    charge_day    DATE NOT NULL,       -- UTC day of ChargePeriodStart: the unit of replace_days
    "AllocatedMethodId" VARCHAR,
    "AllocatedMethodDetails" JSON,
    "AllocatedResourceId" VARCHAR,
    "AllocatedResourceName" VARCHAR,
    "AllocatedTags" JSON,
    "AvailabilityZone" VARCHAR,
    "BilledCost" DECIMAL(38, 12),
    "BillingAccountId" VARCHAR,
    "BillingAccountName" VARCHAR,
    "BillingAccountType" VARCHAR,
    "BillingCurrency" VARCHAR,
    "BillingPeriodEnd" TIMESTAMP,
    "BillingPeriodStart" TIMESTAMP,
    "CapacityReservationId" VARCHAR,
    "CapacityReservationStatus" VARCHAR,
    "ChargeCategory" VARCHAR,
    "ChargeClass" VARCHAR,
    "ChargeDescription" VARCHAR,
    "ChargeFrequency" VARCHAR,
    "ChargePeriodEnd" TIMESTAMP,
    "ChargePeriodStart" TIMESTAMP,
    "CommitmentDiscountCategory" VARCHAR,
    "CommitmentDiscountId" VARCHAR,
    "CommitmentDiscountName" VARCHAR,
    "CommitmentDiscountQuantity" DECIMAL(38, 12),
    "CommitmentDiscountStatus" VARCHAR,
    "CommitmentDiscountType" VARCHAR,
    "CommitmentDiscountUnit" VARCHAR,
    "ConsumedQuantity" DECIMAL(38, 12),
    "ConsumedUnit" VARCHAR,
    "ContractApplied" JSON,
    "ContractedCost" DECIMAL(38, 12),
    "ContractedUnitPrice" DECIMAL(38, 12),
    "EffectiveCost" DECIMAL(38, 12),
    "HostProviderName" VARCHAR,
    "InvoiceId" VARCHAR,
    "InvoiceIssuerName" VARCHAR,
    "ListCost" DECIMAL(38, 12),
    "ListUnitPrice" DECIMAL(38, 12),
    "PricingCategory" VARCHAR,
    "PricingCurrency" VARCHAR,
    "PricingCurrencyContractedUnitPrice" DECIMAL(38, 12),
    "PricingCurrencyEffectiveCost" DECIMAL(38, 12),
    "PricingCurrencyListUnitPrice" DECIMAL(38, 12),
    "PricingQuantity" DECIMAL(38, 12),
    "PricingUnit" VARCHAR,
    "ProviderName" VARCHAR,
    "PublisherName" VARCHAR,
    "RegionId" VARCHAR,
    "RegionName" VARCHAR,
    "ResourceId" VARCHAR,
    "ResourceName" VARCHAR,
    "ResourceType" VARCHAR,
    "ServiceProviderName" VARCHAR,
    "ServiceCategory" VARCHAR,
    "ServiceName" VARCHAR,
    "ServiceSubcategory" VARCHAR,
    "SkuId" VARCHAR,
    "SkuMeter" VARCHAR,
    "SkuPriceDetails" JSON,
    "SkuPriceId" VARCHAR,
    "SubAccountId" VARCHAR,
    "SubAccountName" VARCHAR,
    "SubAccountType" VARCHAR,
    "Tags" JSON,
    x_columns     JSON                 -- custom x_ columns of the row, as a JSON object of strings
);

-- Rows of open multi-part batches wait here until commit moves them into cost_rows atomically.
CREATE TABLE staged_cost_rows AS SELECT * FROM cost_rows WITH NO DATA;

CREATE VIEW live_cost_rows AS SELECT * FROM cost_rows WHERE superseded_by IS NULL;

CREATE SEQUENCE contract_commitment_row_seq START 1;

CREATE TABLE contract_commitment_rows (
    row_seq       BIGINT NOT NULL,     -- unique, increasing in commit order: the keyset for pagination
    workspace_id  VARCHAR NOT NULL,
    provider_id   VARCHAR NOT NULL,
    batch_id      VARCHAR NOT NULL,
    superseded_by VARCHAR,             -- NULL while live; the batch (or revert) that replaced the row
    "BillingCurrency" VARCHAR,
    "ContractCommitmentCost" DECIMAL(38, 12),
    "ContractCommitmentId" VARCHAR,
    "ContractCommitmentCategory" VARCHAR,
    "ContractCommitmentDescription" VARCHAR,
    "ContractCommitmentPeriodEnd" TIMESTAMP,
    "ContractCommitmentPeriodStart" TIMESTAMP,
    "ContractCommitmentQuantity" DECIMAL(38, 12),
    "ContractCommitmentType" VARCHAR,
    "ContractCommitmentUnit" VARCHAR,
    "ContractId" VARCHAR,
    "ContractPeriodEnd" TIMESTAMP,
    "ContractPeriodStart" TIMESTAMP,
    x_columns     JSON
);

CREATE TABLE staged_contract_commitment_rows AS SELECT * FROM contract_commitment_rows WITH NO DATA;

CREATE VIEW live_contract_commitment_rows AS
    SELECT * FROM contract_commitment_rows WHERE superseded_by IS NULL;
