"""Fixtures for the platform tests: keys in any workspace, and rows written straight to the warehouse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.config import Settings
from focusbase.storage import Catalog, open_catalog
from focusbase.tenancy.keys import create_key
from focusbase.tenancy.workspaces import ensure_workspace

KeyHeaders = Callable[..., dict[str, str]]
InsertRows = Callable[..., None]


@pytest.fixture
def key_headers(client: TestClient) -> KeyHeaders:
    """make(scopes, workspace=None, provider_ids=None) -> headers with a new key in that workspace."""
    catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]

    def make(scopes: list[str], workspace: str | None = None, provider_ids: list[str] | None = None) -> dict:
        ws = ensure_workspace(catalog, workspace)
        key = create_key(catalog, workspace_id=ws.id, name="t", scopes=scopes, provider_ids=provider_ids)
        return {"Authorization": f"Bearer {key.key}"}

    return make


@pytest.fixture
def insert_cost_rows(client: TestClient) -> InsertRows:
    """insert(workspace_id, provider_id, live, superseded=0): Cost and Usage rows in the real warehouse."""
    warehouse = client.app.state.runtime.warehouse  # type: ignore[attr-defined]

    def insert(workspace_id: str, provider_id: str, live: int, superseded: int = 0) -> None:
        rows: list[Any] = [
            [workspace_id, provider_id, "bat_x" if i >= live else None] for i in range(live + superseded)
        ]
        with warehouse.transaction() as cur:
            cur.executemany(
                "INSERT INTO cost_rows (row_seq, workspace_id, provider_id, batch_id, superseded_by,"
                ' charge_day, "BilledCost", "BillingCurrency")'
                " VALUES (nextval('cost_row_seq'), ?, ?, 'bat_t', ?, DATE '2026-10-01', 1.25, 'USD')",
                rows,
            )

    return insert


@pytest.fixture
def catalogs(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Catalog, Catalog]]:
    """Two catalogs (two connection pools, as two replicas have) on one PostgreSQL database."""
    first = open_catalog(Settings(data_dir=tmp_path / "a", catalog_url=postgres_url))
    second = open_catalog(Settings(data_dir=tmp_path / "b", catalog_url=postgres_url))
    yield first, second
    first.close()
    second.close()
