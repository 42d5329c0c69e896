"""Fixtures for analytics tests: providers pushing varied rows in three currencies through the real API."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.config import Settings
from focusbase.storage import Catalog, Warehouse
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.conftest import warehouse_of
from tests.ingest.conftest import Provider

SERVICES = [("Compute Engine", "Compute"), ("Cloud Storage", "Storage"), ("BigQuery", "Databases")]
REGIONS = ["us-east1", "europe-west1", None]
CURRENCIES = ["USD", "EUR", "JPY"]
SUB_ACCOUNTS = ["sub-a", "Sub-A", "sub-b", None]
TRICKY = ["0.1", "0.2", "0.3", "0.000000000001", "123456789012.678901234567", "-5.5", "0"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-key",
        rate_limit_read_per_minute=1_000_000,
        rate_limit_ingest_per_minute=100_000,
    )


@pytest.fixture
def warehouse(client: TestClient) -> Warehouse:
    wh: Warehouse = warehouse_of(client)
    return wh


@pytest.fixture
def make_provider(client: TestClient, admin_headers: dict[str, str]) -> Callable[..., Provider]:
    def make(name: str = "Acme Cloud", currency: str = "USD") -> Provider:
        return Provider(client, admin_headers, name, currency)

    return make


def read_headers(catalog: Catalog, providers: list[str] | None = None) -> dict[str, str]:
    """A read key of the default workspace (limited to `providers` when given)."""
    key = create_key(
        catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="reader", scopes=["read"], provider_ids=providers
    )
    return {"X-API-Key": key.key}


def _money(rng: random.Random) -> Decimal:
    if rng.random() < 0.3:
        return Decimal(rng.choice(TRICKY))
    return Decimal(rng.randrange(-(10**6), 10**9)) / Decimal(10**6)


def make_rows(n: int, seed: int, days: list[str]) -> list[dict[str, Any]]:
    """n valid FOCUS rows over the given days (YYYY-MM-DD), in three currencies, with tags and x_ columns."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        service, category = rng.choice(SERVICES)
        billed = _money(rng)
        row: dict[str, Any] = {
            "ChargePeriodStart": f"{rng.choice(days)}T{rng.randrange(24):02d}:00:00Z",
            "BilledCost": billed,
            "EffectiveCost": billed if rng.random() < 0.5 else _money(rng),
            "ListCost": _money(rng),
            "ContractedCost": _money(rng),
            "BillingCurrency": rng.choice(CURRENCIES),
            "ServiceName": service,
            "ServiceCategory": category,
            "ChargeCategory": rng.choice(["Usage", "Usage", "Tax", "Credit"]),
            "ChargeDescription": f"row {seed}-{i}",
            "SubAccountId": rng.choice(SUB_ACCOUNTS),
            "ResourceId": rng.choice(["res-1", "res-2", "res-3", None]),
        }
        region = rng.choice(REGIONS)
        if region is not None:
            row["RegionId"] = region
        if row["ChargeCategory"] == "Usage":
            row["ConsumedQuantity"] = Decimal(rng.randrange(1, 5000)) / Decimal(7)
            row["ConsumedQuantity"] = row["ConsumedQuantity"].quantize(Decimal("1e-12"))
            row["ConsumedUnit"] = rng.choice(["Hours", "GB"])
        if rng.random() < 0.7:
            row["Tags"] = {
                "env": rng.choice(["prod", "dev"]),
                **({"team": "t1"} if rng.random() < 0.5 else {}),
            }
        if rng.random() < 0.5:
            row["x_Owner"] = f"owner-{rng.randrange(3)}"
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def days(month: int, first: int, last: int) -> list[str]:
    """2025-MM-DD strings for days first..last of a month."""
    return [f"2025-{month:02d}-{d:02d}" for d in range(first, last + 1)]


def push_ok(provider: Provider, rows: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    """Push rows and insist they were all stored."""
    response = provider.push(rows, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["rowsRejected"] == 0, body
    return body
