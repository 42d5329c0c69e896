"""Fixtures for the FOCUS read API tests: real warehouse, keys, providers and committed rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from focusbase.config import Settings
from focusbase.storage import Catalog, Warehouse
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from focusbase.tenancy.providers import create_provider
from tests.conftest import warehouse_of
from tests.focusapi.loader import commit_rows, make_rows, month


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The tests issue far more requests than the production per-minute limits allow.
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


def read_headers(
    catalog: Catalog, workspace_id: str = DEFAULT_WORKSPACE_ID, providers: list[str] | None = None
) -> dict[str, str]:
    key = create_key(
        catalog, workspace_id=workspace_id, name="reader", scopes=["read"], provider_ids=providers
    )
    return {"X-API-Key": key.key}


@dataclass
class Loaded:
    provider_a: str
    provider_b: str
    batches: list[str]


@pytest.fixture
def loaded(catalog: Catalog, warehouse: Warehouse) -> Loaded:
    """Two providers of the default workspace with 300 + 120 rows over three 2025 months."""
    a = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="Provider A", default_currency="USD").provider.id
    b = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="Provider B", default_currency="EUR").provider.id
    months = [month(2025, 1), month(2025, 2), month(2025, 3)]
    first = commit_rows(warehouse, make_rows(300, 1, months), provider_id=a)
    second = commit_rows(warehouse, make_rows(120, 2, months), provider_id=b)
    return Loaded(a, b, [first.batch_id, second.batch_id])
