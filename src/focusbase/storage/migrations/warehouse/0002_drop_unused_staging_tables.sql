-- Open batches stage their rows in cost_rows itself (hidden behind superseded_by = 'staged:<batch>'), so the
-- separate staging tables of 0001 were never written to. Dropping them removes no data.
DROP TABLE staged_cost_rows;
DROP TABLE staged_contract_commitment_rows;
