"""Fixtures for the hostile-input suite: admin keys of separate workspaces on one real data directory."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from focusbase.tenancy.keys import create_key
from focusbase.tenancy.workspaces import ensure_workspace

AdminOf = Callable[[str], dict[str, str]]


@pytest.fixture
def admin_of(client: TestClient) -> AdminOf:
    """admin_of(workspace name) -> headers carrying a new admin key of that workspace (created if new)."""
    catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]

    def make(workspace: str) -> dict[str, str]:
        ws = ensure_workspace(catalog, workspace)
        key = create_key(catalog, workspace_id=ws.id, name="attacker or victim", scopes=["admin"])
        return {"Authorization": f"Bearer {key.key}"}

    return make
