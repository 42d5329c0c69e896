"""Shared fixtures: real catalog and warehouse files in tmp_path, an in-process ASGI client, keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.storage import Catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "cases"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", secret_key="test-secret-key")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def catalog(client: TestClient) -> Catalog:
    catalog: Catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
    return catalog


@pytest.fixture
def admin_key(catalog: Catalog) -> str:
    return create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="test admin", scopes=["admin"]).key


@pytest.fixture
def admin_headers(admin_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_key}"}
