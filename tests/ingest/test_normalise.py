"""Normalisation: the casts used after validation give exactly the validator's own parse of every value."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from focusbase.storage.cost_rows import cast_sql
from focusbase.validate.parsing import decimal_sql, timestamp_sql

TIMES = [
    "2026-06-01",
    "2026-06-01T10:11:12Z",
    "2026-06-01T10:11:12z",
    "2026-06-01T10:11:12+00:00",
    "2026-06-01T10:11:12.5Z",
    "2026-06-01T10:11:12.123456Z",
    "2026-06-01T10:11:12.25z",
    "2026-06-01T10:11:12.75+00:00",
    "2024-02-29T23:59:59Z",
]
NUMBERS = [
    "0",
    "-0",
    "12.50",
    "-3.1",
    "1e-3",
    "35.2E-7",
    "1E2",
    "0.000000000001",
    "12345678901234567890123456.5",
]


@pytest.mark.parametrize(
    ("values", "data_type", "reference"), [(TIMES, "Date/Time", "t"), (NUMBERS, "Decimal", "d")]
)
def test_post_validation_casts_equal_the_validator_parse(
    values: list[str], data_type: str, reference: str
) -> None:
    con = duckdb.connect()
    con.register("v", pa.table({"x": pa.array(values, type=pa.string())}))
    parse = timestamp_sql('"x"', "ingest") if reference == "t" else decimal_sql('"x"')
    rows = con.execute(f"SELECT x, {cast_sql(chr(34) + 'x' + chr(34), data_type)}, {parse} FROM v").fetchall()
    for text, ours, validator in rows:
        assert validator is not None, f"the validator should accept {text}"
        assert ours == validator, text
