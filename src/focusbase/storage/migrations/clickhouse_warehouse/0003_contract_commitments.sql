-- Contract Commitment rows (FOCUS 1.3), with the batch and visibility semantics of Cost and Usage rows.
-- Commitments have no charge day: every row of a batch is in day-batch (batch_seq << 20) | 0, so a batch
-- is one visibility unit (replace_all and append are the modes, as in DuckDB). live_day_batches gains the
-- dataset of each day-batch, so a replace_all of one dataset never retires the other's; rows written before
-- this migration are Cost and Usage (the default).
CREATE TABLE contract_commitment_rows (
    workspace_id  LowCardinality(String),
    provider_id   LowCardinality(String),
    batch_id      String,
    batch_seq     UInt32,
    day_batch     UInt64,              -- (batch_seq << 20) | 0
    row_id        UInt64,              -- (batch_seq << 32) | row number in the batch: the keyset
    charge_day    Date,                -- always 1970-01-01
    "BillingCurrency" LowCardinality(Nullable(String)),
    "ContractCommitmentCost" Nullable(Decimal(38, 12)),
    "ContractCommitmentId" Nullable(String),
    "ContractCommitmentCategory" LowCardinality(Nullable(String)),
    "ContractCommitmentDescription" Nullable(String),
    "ContractCommitmentPeriodEnd" Nullable(DateTime64(6, 'UTC')),
    "ContractCommitmentPeriodStart" Nullable(DateTime64(6, 'UTC')),
    "ContractCommitmentQuantity" Nullable(Decimal(38, 12)),
    "ContractCommitmentType" LowCardinality(Nullable(String)),
    "ContractCommitmentUnit" LowCardinality(Nullable(String)),
    "ContractId" Nullable(String),
    "ContractPeriodEnd" Nullable(DateTime64(6, 'UTC')),
    "ContractPeriodStart" Nullable(DateTime64(6, 'UTC')),
    x_columns     Nullable(String),
    x_kv          Map(LowCardinality(String), String) MATERIALIZED
        CAST(JSONExtractKeysAndValuesRaw(ifNull(x_columns, '{}')), 'Map(LowCardinality(String), String)')
) ENGINE = MergeTree
ORDER BY (workspace_id, row_id)
SETTINGS non_replicated_deduplication_window = 10000;

ALTER TABLE live_day_batches ADD COLUMN IF NOT EXISTS dataset LowCardinality(String) DEFAULT 'CostAndUsage'
