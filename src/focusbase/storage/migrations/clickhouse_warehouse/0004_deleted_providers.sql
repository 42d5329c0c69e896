-- Tombstones of deleted providers. One row, one block: every read's live filter drops the day-batches of a
-- tombstoned provider, so all of its rows (both datasets) become invisible at once, and a commit of its
-- batches is refused. The rows themselves are purged afterwards, off the read path. Not partitioned.
CREATE TABLE deleted_providers (
    workspace_id               LowCardinality(String),
    provider_id                String,
    deleted_at                 DateTime64(6, 'UTC'),
    cost_rows                  UInt64,     -- Cost and Usage rows made invisible, every version and staged
    contract_commitment_rows   UInt64      -- Contract Commitment rows, likewise
) ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, provider_id)
SETTINGS non_replicated_deduplication_window = 10000
