"""Fixtures for the FOCUS read API tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from focusbase.storage import Warehouse


@pytest.fixture
def warehouse(client: TestClient) -> Warehouse:
    wh: Warehouse = client.app.state.runtime.warehouse  # type: ignore[attr-defined]
    return wh
