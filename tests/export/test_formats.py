"""Each format and FOCUS version: exact columns, exact sums per currency, row counts equal recordCount."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zipfile
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from focusbase.focus import VERSIONS, Dataset, columns
from focusbase.storage import Warehouse
from tests.export.conftest import download, exact_sums, stored_sums

Rows = list[dict[str, Any]]
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def read_file(data: bytes, fmt: str, gzipped: bool = False) -> tuple[list[str], Rows]:
    """Column names and rows (decimals as Decimal) of an export file."""
    if gzipped:
        data = gzip.decompress(data)
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
        rows = list(reader)
        return list(reader.fieldnames or []), rows
    if fmt == "json":
        lines = [json.loads(line, parse_float=Decimal) for line in data.decode("utf-8").splitlines() if line]
        return (list(lines[0]) if lines else []), lines
    table = pq.read_table(io.BytesIO(data))
    return table.column_names, table.to_pylist()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_format_and_version_are_exact(
    loaded: Warehouse, client: TestClient, run_export: Callable[..., dict[str, Any]], fmt: str, version: str
) -> None:
    job = run_export(format=fmt, focusVersion=version)
    assert job["status"] == "Complete", job
    names, rows = read_file(download(client, job), fmt)
    # Exactly the version's FOCUS columns in catalogue order, then the custom columns in scope.
    assert names == [*columns(version), "x_CostCenter"]
    assert len(rows) == job["recordCount"] == 53
    assert job["progress"] == {"rowsWritten": 53, "totalRows": 53, "percent": 100.0}
    assert exact_sums(rows) == stored_sums(loaded)
    assert (
        job["fileName"]
        == f"cost-and-usage_focus-{version}_2025-01-01_2025-02-01.{ {'json': 'ndjson'}.get(fmt, fmt) }"
    )


def test_csv_output_rules(
    loaded: Warehouse, client: TestClient, run_export: Callable[..., dict[str, Any]]
) -> None:
    job = run_export(format="csv")
    _, rows = read_file(download(client, job), "csv")
    decimal_columns = [n for n, c in columns("1.3").items() if c.data_type == "Decimal"]
    for row in rows:
        for name in decimal_columns:
            assert row[name] == "" or "." in row[name], (name, row[name])  # always a decimal point
        for name in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"):
            assert TIMESTAMP.match(row[name]), row[name]
        assert row["BillingAccountId"] == "000123456789"  # ids stay text: leading zeros kept
        assert json.loads(row["Tags"])["team"] == "data"
    assert {r["ChargeDescription"] for r in rows} >= {'VM core hour 3, "quoted", with comma'}
    assert {r["BilledCost"] for r in rows} >= {"0.000000000001", "12345678901234567890.123456789012"}
    assert {r["x_CostCenter"] for r in rows} == {"", "cc-0", "cc-1", "cc-2"}
    assert all(r["ChargeClass"] == "" for r in rows)  # null is an empty field


def test_parquet_types(
    loaded: Warehouse, client: TestClient, run_export: Callable[..., dict[str, Any]]
) -> None:
    job = run_export(format="parquet", focusVersion="1.2")
    schema = pq.read_schema(io.BytesIO(download(client, job)))
    assert schema.field("BilledCost").type == pa.decimal128(38, 12)
    assert schema.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    assert schema.field("BillingAccountId").type == pa.string()
    assert schema.field("Tags").type == pa.string()


def test_json_is_ndjson_with_exact_numbers(
    loaded: Warehouse, client: TestClient, run_export: Callable[..., dict[str, Any]]
) -> None:
    job = run_export(format="json")
    text = download(client, job).decode()
    lines = text.splitlines()
    assert len(lines) == 53
    first = json.loads(lines[0], parse_float=Decimal)
    assert isinstance(first["Tags"], dict)
    assert TIMESTAMP.match(first["ChargePeriodStart"])
    assert '"BilledCost":12345678901234567890.123456789012' in text


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_gzip(
    loaded: Warehouse, client: TestClient, run_export: Callable[..., dict[str, Any]], fmt: str
) -> None:
    job = run_export(format=fmt, compression="gzip")
    assert job["fileName"].endswith(".gz")
    _, rows = read_file(download(client, job), fmt, gzipped=True)
    assert len(rows) == job["recordCount"] == 53
    assert exact_sums(rows) == stored_sums(loaded)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_contract_commitments_zip(
    loaded: Warehouse, client: TestClient, run_export: Callable[..., dict[str, Any]], fmt: str
) -> None:
    job = run_export(format=fmt, includeContractCommitments=True)
    assert job["status"] == "Complete", job
    assert job["fileName"] == "focus-1.3_2025-01-01_2025-02-01.zip"
    ext = {"json": "ndjson"}.get(fmt, fmt)
    with zipfile.ZipFile(io.BytesIO(download(client, job))) as zf:
        assert zf.namelist() == [f"cost-and-usage.{ext}", f"contract-commitment.{ext}"]
        _, cost = read_file(zf.read(f"cost-and-usage.{ext}"), fmt)
        names, commitments = read_file(zf.read(f"contract-commitment.{ext}"), fmt)
    assert names == list(columns("1.3", Dataset.CONTRACT_COMMITMENT))
    assert len(cost) == 53 and len(commitments) == 3
    assert job["recordCounts"] == {"CostAndUsage": 53, "ContractCommitment": 3}
    assert job["recordCount"] == 56
    assert exact_sums(cost) == stored_sums(loaded)
    total = sum(Decimal(str(r["ContractCommitmentCost"])) for r in commitments)
    assert total == Decimal("3003.000000000003")


def test_filters_of_the_list_endpoint(
    loaded: Warehouse, client: TestClient, run_export: Callable[..., dict[str, Any]]
) -> None:
    job = run_export(format="csv", providerName="Other Cloud")
    _, rows = read_file(download(client, job), "csv")
    assert job["recordCount"] == len(rows) == 13
    assert {r["BillingCurrency"] for r in rows} == {"EUR"}
    job = run_export(format="csv", billingCurrency="USD", chargeCategory="Usage", resourceId="vm-0")
    _, rows = read_file(download(client, job), "csv")
    assert len(rows) == job["recordCount"] == 6
    assert {r["ResourceId"] for r in rows} == {"vm-0"}


def test_empty_export_has_a_header(client: TestClient, run_export: Callable[..., dict[str, Any]]) -> None:
    job = run_export(format="csv", focusVersion="1.0")
    assert job["status"] == "Complete" and job["recordCount"] == 0
    names, rows = read_file(download(client, job), "csv")
    assert rows == [] and names == list(columns("1.0"))
