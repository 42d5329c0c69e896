"""Data directories written through the embedded server's API, for the tests that copy them elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog
from focusbase.tenancy.keys import create_key
from tests.conftest import CASES
from tests.imports.conftest import upload
from tests.ingest.conftest import Provider, envelope


@dataclass
class Source:
    """A running embedded server on a data directory, with an admin key."""

    client: TestClient
    catalog: Catalog
    admin: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin}"}

    def provider(self, name: str, currency: str) -> Provider:
        return Provider(self.client, self.headers, name, currency)

    def push(self, provider: Provider, rows: list[dict[str, Any]], **params: Any) -> str:
        """Push rows (the StackSpend envelope); the committed batch's id."""
        response = provider.push(rows, **params)
        assert response.status_code == 200, response.text
        return str(response.json()["batchId"])

    def commitments(self, provider: Provider, rows: list[dict[str, Any]], mode: str) -> str:
        """Push Contract Commitment rows; the committed batch's id."""
        response = self.client.post(
            f"/api/v1/public/ingest/focus/{provider.id}",
            content=envelope(rows, dataset="ContractCommitment"),
            params={"mode": mode},
            headers={"Content-Type": "application/json", **provider.headers},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["batchId"])

    def import_sample(self, provider: Provider) -> str:
        """Import the first 16 rows of the AWS FOCUS sample (one ListCost has 14 decimals: 15 rows stored);
        the committed batch's id."""
        imported = upload(
            self.client,
            self.headers,
            provider.id,
            CASES / "samples" / "focus_sample_costandusage_aws_first16rows.csv",
            allowPartial="true",
        )
        assert imported.status_code == 200, imported.text
        return str(imported.json()["batch"]["id"])


@contextmanager
def api_source(data_dir: Path) -> Iterator[Source]:
    """The embedded server on `data_dir` (rate limits out of the way), stopped on exit."""
    settings = Settings(
        data_dir=data_dir,
        secret_key="test-secret-key",
        rate_limit_ingest_per_minute=100_000,
        rate_limit_read_per_minute=100_000,
    )
    with TestClient(create_app(settings)) as client:
        catalog: Catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
        admin = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="admin", scopes=["admin"]).key
        yield Source(client, catalog, admin)
