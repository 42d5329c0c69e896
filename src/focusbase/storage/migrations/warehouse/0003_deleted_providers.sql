-- Tombstones of deleted providers. A provider's rows are deleted and its tombstone written in one warehouse
-- transaction; the catalog records the deletion afterwards, and on start the server finishes any deletion
-- whose tombstone is here but whose catalog row is not yet marked deleted. A batch of a tombstoned provider
-- can never commit. Adding a table removes no data.
CREATE TABLE deleted_providers (
    provider_id                 VARCHAR PRIMARY KEY,   -- prv_...; ids are never reused
    workspace_id                VARCHAR NOT NULL,
    deleted_at                  TIMESTAMP NOT NULL,    -- UTC; the provider's deletedAt
    cost_rows                   BIGINT NOT NULL,       -- Cost and Usage rows deleted, every version
    contract_commitment_rows    BIGINT NOT NULL        -- Contract Commitment rows deleted, every version
);
