"""Test data for the read API: deterministic FOCUS rows committed straight into the warehouse.

Rows go in through one warehouse transaction per batch, the way a batch commit stores them: a committed
`batches` record, rows with fresh row_seq values, and (optionally) earlier live rows marked superseded.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

from focusbase.storage import Warehouse

SERVICES = [
    ("Compute Engine", "Compute"),
    ("Cloud Storage", "Storage"),
    ("BigQuery", "Databases"),
    ("VPC", "Networking"),
]
REGIONS = ["us-east1", "europe-west1", "asia-south1", None]
CATEGORIES = ["Usage", "Usage", "Usage", "Purchase", "Tax", "Credit", "Adjustment"]
CURRENCIES = ["USD", "EUR"]
PROVIDER_NAMES = ["Acme Cloud", "acme cloud", "Beta SaaS"]
TRICKY = [
    Decimal("0.1"),
    Decimal("0.2"),
    Decimal("0.3"),
    Decimal("0.000000000001"),
    Decimal("123456789012345.678901234567"),
    Decimal("-5.5"),
    Decimal("0"),
]


@dataclass
class Loaded:
    batch_id: str
    committed_at: datetime
    rows: int


def month(year: int, mon: int) -> datetime:
    return datetime(year, mon, 1)


def next_month(start: datetime) -> datetime:
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def make_rows(n: int, seed: int, months: list[datetime]) -> list[dict[str, Any]]:
    """n varied Cost and Usage rows (FOCUS column names; x_columns as a dict)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        service, category = rng.choice(SERVICES)
        start_month = rng.choice(months)
        day = start_month + timedelta(days=rng.randrange(28), hours=rng.randrange(24))
        cost = rng.choice(TRICKY) if rng.random() < 0.3 else Decimal(rng.randrange(0, 10**8)) / Decimal(10**6)
        region = rng.choice(REGIONS)
        row: dict[str, Any] = {
            "BilledCost": cost,
            "EffectiveCost": cost,
            "ListCost": cost + Decimal("0.1"),
            "ContractedCost": cost,
            "BillingAccountId": f"acct-{rng.randrange(3)}",
            "BillingAccountName": rng.choice(["Main", None]),
            "BillingCurrency": rng.choice(CURRENCIES),
            "BillingPeriodStart": start_month,
            "BillingPeriodEnd": next_month(start_month),
            "ChargeCategory": rng.choice(CATEGORIES),
            "ChargeClass": None,
            "ChargeDescription": f"charge {seed}-{i}",
            "ChargeFrequency": rng.choice(["Usage-Based", "Recurring", "One-Time"]),
            "ChargePeriodStart": day,
            "ChargePeriodEnd": day + timedelta(hours=1),
            "InvoiceIssuerName": "Acme",
            "ProviderName": rng.choice(PROVIDER_NAMES),
            "PublisherName": "Acme",
            "ServiceProviderName": "Acme",
            "HostProviderName": "Acme",
            "ServiceName": service,
            "ServiceCategory": category,
            "RegionId": region,
            "RegionName": None if region is None else region.upper(),
            "ResourceId": rng.choice([f"res-{rng.randrange(5)}", None]),
            "SubAccountId": rng.choice(["sub-a", "sub-b", "Sub-A", None]),
            "PricingCategory": rng.choice(["Standard", "Committed", None]),
            "ConsumedQuantity": (Decimal(rng.randrange(1000)) / Decimal(7000)).quantize(Decimal("1e-12"))
            if rng.random() < 0.5
            else None,
            "Tags": orjson.dumps({"env": rng.choice(["prod", "dev"]), "team": "t1"}).decode()
            if rng.random() < 0.7
            else None,
            "x_columns": orjson.dumps(
                {"x_Owner": f"owner-{rng.randrange(3)}", "x_SplitCostAllocationPercentage": "12.50"}
            ).decode()
            if rng.random() < 0.5
            else None,
        }
        rows.append(row)
    return rows


_DECIMAL = pa.decimal128(38, 12)


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    names = sorted({k for r in rows for k in r})
    arrays = {}
    for name in names:
        values = [r.get(name) for r in rows]
        sample = next((v for v in values if v is not None), None)
        if isinstance(sample, Decimal):
            arrays[name] = pa.array(values, type=_DECIMAL)
        elif isinstance(sample, datetime):
            arrays[name] = pa.array(values, type=pa.timestamp("us"))
        else:
            arrays[name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return pa.table(arrays)


def commit_rows(
    warehouse: Warehouse,
    rows: list[dict[str, Any]],
    *,
    workspace_id: str = "ws_default",
    provider_id: str = "prv_test",
    supersede_batch: str | None = None,
    dataset: str = "CostAndUsage",
) -> Loaded:
    """Commit rows as one batch; with `supersede_batch`, that batch's live rows are superseded first."""
    batch_id = "bat_" + uuid.uuid4().hex[:16]
    now = datetime.now(UTC).replace(tzinfo=None)
    if not isinstance(warehouse, Warehouse):  # the ClickHouse run: tests.conftest.ScaleWarehouse
        return _commit_scale(
            warehouse.runtime, rows, batch_id, now, workspace_id, provider_id, supersede_batch, dataset
        )
    table_name, seq = (
        ("cost_rows", "cost_row_seq")
        if dataset == "CostAndUsage"
        else ("contract_commitment_rows", "contract_commitment_row_seq")
    )
    source = _table(rows) if rows else None
    with warehouse.transaction() as cur:
        cur.execute(
            "INSERT INTO batches (id, workspace_id, provider_id, dataset, source, mode, status,"
            " rows_received, line_items_created, created_at, updated_at, committed_at)"
            " VALUES (?, ?, ?, ?, 'push', 'append', 'committed', ?, ?, ?, ?, ?)",
            [batch_id, workspace_id, provider_id, dataset, len(rows), len(rows), now, now, now],
        )
        if supersede_batch is not None:
            cur.execute(
                f"UPDATE {table_name} SET superseded_by = ? WHERE batch_id = ? AND superseded_by IS NULL",
                [batch_id, supersede_batch],
            )
        if not rows:
            return Loaded(batch_id, now, 0)
        cur.register("source_rows", source)
        extra = ', CAST("ChargePeriodStart" AS DATE) AS charge_day' if dataset == "CostAndUsage" else ""
        cur.execute(
            f"INSERT INTO {table_name} BY NAME SELECT nextval('{seq}') AS row_seq, ? AS workspace_id,"
            f" ? AS provider_id, ? AS batch_id{extra}, * FROM source_rows",
            [workspace_id, provider_id, batch_id],
        )
        cur.unregister("source_rows")
    return Loaded(batch_id, now, len(rows))


def _commit_scale(
    runtime: Any,
    rows: list[dict[str, Any]],
    batch_id: str,
    now: datetime,
    workspace_id: str,
    provider_id: str,
    supersede_batch: str | None,
    dataset: str,
) -> Loaded:
    """`commit_rows` on the ClickHouse warehouse (tests.scale_query.store_rows); a superseded batch's rows are
    retired by reverting its commit."""
    from focusbase.focus import Dataset
    from tests.scale_query import store_rows

    if supersede_batch is not None:
        found = runtime.ingest._record(supersede_batch)
        assert found is not None
        runtime.ingest.ch.revert(found[1])
    table = _table(rows) if rows else pa.table({})
    batch_id = store_rows(
        runtime, table, dataset=Dataset(dataset), workspace_id=workspace_id, provider_id=provider_id,
        batch_id=batch_id,
    )  # fmt: skip
    committed = runtime.ingest.get(batch_id)
    return Loaded(batch_id, committed["committed_at"] if committed else now, len(rows))
