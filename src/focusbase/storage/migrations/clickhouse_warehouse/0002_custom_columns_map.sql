-- Custom (x_) columns: x_columns keeps the row's object as text (served as stored, the same text DuckDB's
-- to_json writes), and this Map is for grouping by one of them. Values stay JSON literals, as in tags_kv
-- ('"a"' and 'null' differ). Adding a MATERIALIZED column changes no stored row: parts written before it
-- compute it when read.
ALTER TABLE cost_rows ADD COLUMN IF NOT EXISTS x_kv Map(LowCardinality(String), String) MATERIALIZED
    CAST(JSONExtractKeysAndValuesRaw(ifNull(x_columns, '{}')), 'Map(LowCardinality(String), String)')
