"""Fixtures for import tests: a provider, and an upload helper over the in-process client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import CASES

IMPORTS = CASES / "imports"


@pytest.fixture
def provider_id(client: TestClient, admin_headers: dict[str, str]) -> str:
    response = client.post(
        "/api/v1/providers", json={"name": "Datadog", "defaultCurrency": "USD"}, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def upload(
    client: TestClient,
    headers: dict[str, str],
    provider_id: str,
    path: Path,
    *,
    preview: bool = False,
    mapping: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    **fields: str,
) -> Response:
    """POST a file to the import (or preview) endpoint as multipart/form-data."""
    data = dict(fields)
    if mapping is not None:
        data["mapping"] = orjson.dumps(mapping).decode()
    if options is not None:
        data["options"] = orjson.dumps(options).decode()
    url = f"/api/v1/providers/{provider_id}/imports" + ("/preview" if preview else "")
    with path.open("rb") as fh:
        return client.post(url, headers=headers, files={"file": (path.name, fh)}, data=data)
