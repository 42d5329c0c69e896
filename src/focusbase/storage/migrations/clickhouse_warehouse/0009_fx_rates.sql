-- A workspace's currency conversion rates (storage/clickhouse_fx.py), replaced as a whole by each upload.
-- An upload is a set: its rates are inserted into fx_rates under a new set_id, where no reader looks, and
-- then one row in fx_rate_sets makes the whole set the workspace's rates. That row is one single-row INSERT,
-- so one block in one part of an unpartitioned table, which ClickHouse makes visible atomically: a reader
-- takes the newest set with such a row (by version, then set_id) and sees all of its rates or, before the
-- row, all of the previous set's. Rows of sets no reader can still be reading, and of sets whose upload
-- failed before its row, are deleted by later uploads.
CREATE TABLE fx_rates (
    workspace_id   LowCardinality(String),
    set_id         String,
    day            Int32,                  -- days since 1970-01-01: DuckDB's DATE range (years 1 to 9999)
    from_currency  LowCardinality(String),
    to_currency    LowCardinality(String),
    rate           Decimal(38, 10),        -- as DuckDB's fx_rates.rate
    staged_at      DateTime64(6, 'UTC') DEFAULT now64(6)
) ENGINE = MergeTree
ORDER BY (workspace_id, set_id, to_currency, from_currency, day);

CREATE TABLE fx_rate_sets (
    workspace_id  LowCardinality(String),
    version       UInt64,                  -- above every version the uploader saw: the newest set wins
    set_id        String,                  -- random: breaks a tie between two uploads of one version
    rates         UInt64,                  -- the set's rates (0: the upload removed every rate)
    written_at    DateTime64(6, 'UTC') DEFAULT now64(6)
) ENGINE = MergeTree
ORDER BY (workspace_id, version, set_id)
