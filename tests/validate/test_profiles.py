"""The ingest profile, typed (Parquet) input, row offsets, and the SQL casts shared with the normaliser."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from focusbase.focus import Dataset
from focusbase.ingest.envelope import parse_json_payload
from focusbase.validate import validate_table
from focusbase.validate.parsing import decimal_sql, quote_literal, timestamp_sql


def _rows(**columns: list[str | None]) -> pa.Table:
    return pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})


def test_ingest_profile_needs_four_columns_and_accepts_dates_and_aliases() -> None:
    table = _rows(
        ChargePeriodStart=[
            "2025-01-01",
            "2025-01-01T10:00:00Z",
            "2025-01-01T10:00:00+00:00",
            "2025-01-01 10:00",
        ],
        BilledCost=["1.5", "2", "-0.25", "3"],
        ServiceName=["EC2", "EC2", "S3", "S3"],
        ChargeCategory=["Usage", "Usage", "Credit", "Usage"],
        Region=["us-east-1", None, None, None],
        UsageQuantity=["3", "1", None, "2"],
    )
    result = validate_table(table, profile="ingest", row_offset=100)
    assert [(f.row, f.column, f.rule) for f in result.findings] == [
        (104, "ChargePeriodStart", "datetime-format")
    ]
    assert result.invalid_rows == [104]


def test_ingest_profile_reports_missing_required_and_unknown_columns() -> None:
    result = validate_table(_rows(BilledCost=["1"], Project=["x"], x_Team=["a"]), profile="ingest")
    assert {(f.column, f.rule) for f in result.findings} == {
        ("ChargePeriodStart", "column-missing"),
        ("ServiceName", "column-missing"),
        ("ChargeCategory", "column-missing"),
        ("Project", "column-unknown"),
    }


def test_push_envelope_rows_validate_with_offset() -> None:
    payload = parse_json_payload(
        b'{"format":"stackspend.focus","version":"1","rows":['
        b'{"ChargePeriodStart":"2025-01-01","BilledCost":1.25,"ServiceName":"S3","ChargeCategory":"Usage"},'
        b'{"ChargePeriodStart":"2025-01-01","BilledCost":"12,5","ServiceName":"S3","ChargeCategory":"usage"}]}'
    )
    result = validate_table(payload.table, profile="ingest", row_offset=50_000)
    assert {(f.row, f.rule) for f in result.errors} == {(50_002, "numeric-format"), (50_002, "allowed-value")}
    assert result.invalid_rows == [50_002]


def test_typed_columns_from_parquet() -> None:
    table = pa.table(
        {
            "ChargePeriodStart": pa.array([0, 3600], type=pa.timestamp("s", tz="UTC")),
            "BilledCost": pa.array([Decimal("1.5"), Decimal("0.0000000000001")], type=pa.decimal128(20, 14)),
            "ServiceName": ["a", "b"],
            "ChargeCategory": ["Usage", "Usage"],
            "ListCost": pa.array([1.5, 2.0], type=pa.float64()),
            "ResourceId": pa.array([1, 2], type=pa.int64()),
        }
    )
    result = validate_table(table, profile="ingest")
    found = {(f.row, f.column, f.rule, f.severity) for f in result.findings}
    assert (2, "BilledCost", "decimal-precision", "error") in found
    assert (None, "ListCost", "column-type", "warning") in found
    assert (None, "ResourceId", "column-type", "error") in found
    assert result.invalid_rows == [2]


def test_max_findings_keeps_complete_invalid_rows() -> None:
    table = _rows(
        ChargePeriodStart=["bad"] * 50,
        BilledCost=["1"] * 50,
        ServiceName=["s"] * 50,
        ChargeCategory=["Usage"] * 50,
    )
    result = validate_table(table, profile="ingest", max_findings=5)
    assert len(result.findings) == 5
    assert result.counts.rules["datetime-format"] == 50
    assert result.invalid_rows == list(range(1, 51))


def test_contract_commitment_needs_1_3() -> None:
    with pytest.raises(ValueError, match=r"from FOCUS 1\.3"):
        validate_table(_rows(ContractId=["c"]), version="1.2", dataset=Dataset.CONTRACT_COMMITMENT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.50", Decimal("12.5")),
        ("-0.000000000001", Decimal("-0.000000000001")),
        ("35.2E-7", Decimal("0.00000352")),
        ("2.000000000000000", Decimal("2")),
        ("1.0000000000001", None),
        ("35.2E+7", None),
        ("1,000", None),
        ("+5", None),
        (" 5", None),
        ("$5", None),
        ("123456789012345678901234567", None),
    ],
)
def test_decimal_sql_is_exact_or_null(text: str, expected: Decimal | None) -> None:
    value = duckdb.sql(f"SELECT {decimal_sql(quote_literal(text))}").fetchall()[0][0]
    assert value == expected


@pytest.mark.parametrize(
    ("text", "strict", "ingest"),
    [
        ("2025-01-31T23:59:59Z", "2025-01-31 23:59:59", "2025-01-31 23:59:59"),
        ("2025-01-31", None, "2025-01-31 00:00:00"),
        ("2025-01-31T10:00:00+00:00", None, "2025-01-31 10:00:00"),
        ("2025-01-31T10:00:00.5Z", None, "2025-01-31 10:00:00.5"),
        ("2025-01-31 10:00:00", None, None),
        ("2025-02-30T00:00:00Z", None, None),
        ("2025-01-31T10:00:00+02:00", None, None),
    ],
)
def test_timestamp_sql_per_profile(text: str, strict: str | None, ingest: str | None) -> None:
    row = duckdb.sql(
        f"SELECT CAST({timestamp_sql(quote_literal(text), 'strict')} AS VARCHAR), "
        f"CAST({timestamp_sql(quote_literal(text), 'ingest')} AS VARCHAR)"
    ).fetchall()[0]
    assert row == (strict, ingest)
