"""Export test data: typed FOCUS rows inserted straight into the warehouse, and job helpers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from focusbase.focus import Dataset, columns
from focusbase.storage import Warehouse
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from tests.conftest import warehouse_of
from tests.scale_query import snapshot_query, store_rows

WINDOW = ("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z")
_META = ("row_seq", "workspace_id", "provider_id", "batch_id", "superseded_by", "charge_day", "x_columns")

# Values that break floats: 0.1+0.2, twelve decimal places, 20 integer digits, negatives.
AMOUNTS = (
    Decimal("0.1"),
    Decimal("0.2"),
    Decimal("0.000000000001"),
    Decimal("12345678901234567890.123456789012"),
    Decimal("-3.300000000007"),
    Decimal("7"),
)


def _arrow_type(data_type: str) -> pa.DataType:
    return {
        "Decimal": pa.decimal128(38, 12),
        "Date/Time": pa.timestamp("us"),
    }.get(data_type, pa.string())


def cost_row(
    i: int, *, currency: str = "USD", provider: str = "Acme Cloud", month: int = 1
) -> dict[str, Any]:
    """One valid FOCUS 1.3 Cost and Usage row; amounts cycle through AMOUNTS."""
    start = datetime(2025, month, 1) + timedelta(hours=i % 600)
    amount = AMOUNTS[i % len(AMOUNTS)]
    return {
        "BilledCost": amount,
        "EffectiveCost": amount * 2,
        "ListCost": amount,
        "ContractedCost": amount,
        "PricingQuantity": Decimal("12.0"),
        "ConsumedQuantity": Decimal("12.5"),
        "BillingAccountId": "000123456789",
        "BillingAccountName": "Acme Corp",
        "BillingCurrency": currency,
        "BillingPeriodStart": datetime(2025, month, 1),
        "BillingPeriodEnd": datetime(2025 + month // 12, month % 12 + 1, 1),
        "ChargePeriodStart": start,
        "ChargePeriodEnd": start + timedelta(hours=1),
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": f'VM core hour {i}, "quoted", with comma',
        "ChargeFrequency": "Usage-Based",
        "InvoiceIssuerName": provider,
        "ProviderName": provider,
        "PublisherName": provider,
        "ServiceProviderName": provider,
        "HostProviderName": provider,
        "InvoiceId": "INV-1",
        "PricingUnit": "Hours",
        "ConsumedUnit": "Hours",
        "ServiceCategory": "Compute",
        "ServiceSubcategory": "Virtual Machines",
        "ServiceName": "Virtual Machines",
        "RegionId": "eu-west-1",
        "RegionName": "Europe (Ireland)",
        "ResourceId": f"vm-{i % 7}",
        "SubAccountId": "0042",
        "Tags": json.dumps({"team": "data", "env": "prod" if i % 2 else "dev"}),
        "x_columns": json.dumps({"x_CostCenter": f"cc-{i % 3}"}) if i % 2 else None,
    }


def insert_cost_rows(
    warehouse: Warehouse,
    rows: list[dict[str, Any]],
    *,
    workspace_id: str = DEFAULT_WORKSPACE_ID,
    provider_id: str = "prv_test",
    batch_id: str = "bat_test",
) -> None:
    """Insert typed rows as live cost rows in one warehouse transaction."""
    names = list(columns("1.3"))
    data: dict[str, list[Any]] = {name: [r.get(name) for r in rows] for name in names}
    fields = [pa.field(name, _arrow_type(col.data_type)) for name, col in columns("1.3").items()]
    table = pa.table(data, schema=pa.schema(fields))
    table = table.append_column("x_columns", pa.array([r.get("x_columns") for r in rows], pa.string()))
    if not isinstance(warehouse, Warehouse):  # the ClickHouse run (tests.conftest.ScaleWarehouse)
        store_rows(
            warehouse.runtime, table, workspace_id=workspace_id, provider_id=provider_id, batch_id=batch_id
        )
        return
    with warehouse.transaction() as tx:
        tx.register("incoming", table)
        tx.execute(
            "INSERT INTO cost_rows BY NAME SELECT nextval('cost_row_seq') AS row_seq, ? AS workspace_id,"
            " ? AS provider_id, ? AS batch_id, NULL AS superseded_by,"
            ' CAST("ChargePeriodStart" AS DATE) AS charge_day, * FROM incoming',
            [workspace_id, provider_id, batch_id],
        )
        tx.unregister("incoming")


def insert_focus_file(warehouse: Warehouse, path: Path, *, provider_id: str = "prv_demo") -> None:
    """Insert a FOCUS 1.3 Parquet file (UTC timestamps) as live cost rows of the default workspace."""
    select = []
    for name, col in columns("1.3").items():
        quoted = '"' + name + '"'
        if col.data_type == "Date/Time":
            select.append(f"timezone('UTC', {quoted}) AS {quoted}")
        elif col.data_type == "Decimal":
            select.append(f"CAST({quoted} AS DECIMAL(38, 12)) AS {quoted}")
        else:
            select.append(quoted)
    with warehouse.transaction() as tx:
        tx.execute(
            "INSERT INTO cost_rows BY NAME SELECT nextval('cost_row_seq') AS row_seq, ? AS workspace_id,"
            " ? AS provider_id, 'bat_demo' AS batch_id, NULL AS superseded_by,"
            " CAST(timezone('UTC', \"ChargePeriodStart\") AS DATE) AS charge_day, "
            + ", ".join(select)
            + " FROM read_parquet(?)",
            [DEFAULT_WORKSPACE_ID, provider_id, str(path)],
        )


def insert_commitments(warehouse: Warehouse, n: int, *, workspace_id: str = DEFAULT_WORKSPACE_ID) -> None:
    """Insert n live contract commitments overlapping January 2025."""
    cols = columns("1.3", Dataset.CONTRACT_COMMITMENT)
    rows = [
        {
            "BillingCurrency": "USD",
            "ContractCommitmentCost": Decimal("1000.000000000001") + i,
            "ContractCommitmentId": f"cc-{i}",
            "ContractCommitmentCategory": "Spend",
            "ContractCommitmentDescription": "Annual spend commitment",
            "ContractCommitmentPeriodStart": datetime(2024, 7, 1),
            "ContractCommitmentPeriodEnd": datetime(2025, 7, 1),
            "ContractCommitmentType": "Contract",
            "ContractId": f"ctr-{i}",
            "ContractPeriodStart": datetime(2024, 7, 1),
            "ContractPeriodEnd": datetime(2027, 7, 1),
        }
        for i in range(n)
    ]
    fields = [pa.field(name, _arrow_type(col.data_type)) for name, col in cols.items()]
    table = pa.table({name: [r.get(name) for r in rows] for name in cols}, schema=pa.schema(fields))
    if not isinstance(warehouse, Warehouse):  # the ClickHouse run (tests.conftest.ScaleWarehouse)
        cc = Dataset.CONTRACT_COMMITMENT
        store_rows(
            warehouse.runtime,
            table,
            dataset=cc,
            workspace_id=workspace_id,
            provider_id="prv_test",
            batch_id="bat_cc",
        )
        return
    with warehouse.transaction() as tx:
        tx.register("incoming", table)
        tx.execute(
            "INSERT INTO contract_commitment_rows BY NAME"
            " SELECT nextval('contract_commitment_row_seq') AS row_seq,"
            " ? AS workspace_id, 'prv_test' AS provider_id, 'bat_cc' AS batch_id, NULL AS superseded_by,"
            " * FROM incoming",
            [workspace_id],
        )
        tx.unregister("incoming")


def stored_sums(
    warehouse: Warehouse, workspace_id: str = DEFAULT_WORKSPACE_ID
) -> dict[str, tuple[Decimal, Decimal]]:
    """Per currency (BilledCost, EffectiveCost) sums of live January rows, exactly."""
    sql = (
        'SELECT "BillingCurrency", CAST(sum("BilledCost") AS VARCHAR),'
        ' CAST(sum("EffectiveCost") AS VARCHAR) FROM live_cost_rows WHERE workspace_id = ?'
        " AND \"BillingPeriodStart\" >= TIMESTAMP '2025-01-01'"
        " AND \"BillingPeriodStart\" < TIMESTAMP '2025-02-01'"
        ' GROUP BY "BillingCurrency"'
    )
    if not isinstance(warehouse, Warehouse):  # the ClickHouse run: over a snapshot of the scale-out stores
        rows = snapshot_query(warehouse.runtime)(sql, [workspace_id])
    else:
        with warehouse.cursor() as cur:
            rows = cur.execute(sql, [workspace_id]).fetchall()
    return {r[0]: (Decimal(r[1]), Decimal(r[2])) for r in rows}


def exact_sums(rows: list[dict[str, Any]]) -> dict[str, tuple[Decimal, Decimal]]:
    """Per currency (BilledCost, EffectiveCost) sums of exported rows, in exact Decimal arithmetic."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    with localcontext() as ctx:
        ctx.prec = 80  # exact for DECIMAL(38, 12) sums
        _add(out, rows)
    return out


def _add(out: dict[str, tuple[Decimal, Decimal]], rows: list[dict[str, Any]]) -> None:
    for row in rows:
        billed, effective = out.get(row["BillingCurrency"], (Decimal(0), Decimal(0)))
        out[row["BillingCurrency"]] = (
            billed + Decimal(str(row["BilledCost"])),
            effective + Decimal(str(row["EffectiveCost"])),
        )


def wait_for_job(
    client: TestClient, headers: dict[str, str], job_id: str, timeout: float = 30
) -> dict[str, Any]:
    """Poll the job until it is Complete or Failed."""
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(f"/focus/v1/cost-and-usage/export/{job_id}", headers=headers)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        if body["status"] in ("Complete", "Failed"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {body['status']} after {timeout}s: {body}")
        time.sleep(0.05)


@pytest.fixture
def warehouse(client: TestClient) -> Warehouse:
    wh: Warehouse = warehouse_of(client)
    return wh


@pytest.fixture
def loaded(warehouse: Warehouse) -> Warehouse:
    """Two currencies, two providers, January plus a February row outside the window, and commitments."""
    rows = [cost_row(i) for i in range(40)]
    rows += [cost_row(i, currency="EUR", provider="Other Cloud") for i in range(13)]
    rows += [cost_row(99, month=2)]
    insert_cost_rows(warehouse, rows)
    insert_commitments(warehouse, 3)
    return warehouse


@pytest.fixture
def run_export(client: TestClient, admin_headers: dict[str, str]) -> Iterator[Callable[..., dict[str, Any]]]:
    """POST an export (January 2025 plus extra fields) and wait for it to finish."""

    def run(headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        body = {"billingPeriodStart": WINDOW[0], "billingPeriodEnd": WINDOW[1], **extra}
        resp = client.post("/focus/v1/cost-and-usage/export", json=body, headers=headers or admin_headers)
        assert resp.status_code == 202, resp.text
        return wait_for_job(client, headers or admin_headers, resp.json()["jobId"])

    yield run


def download(client: TestClient, job: dict[str, Any]) -> bytes:
    """Fetch a Complete job's file through its signed URL."""
    resp = client.get(job["downloadUrl"])
    assert resp.status_code == 200, resp.text
    return resp.content
