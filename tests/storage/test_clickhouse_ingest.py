"""Ingest on the scale-out profile (FOCUSBASE_WAREHOUSE_URL: batches in PostgreSQL, rows in ClickHouse on chDB):
the same API history gives the same answers as on the embedded warehouse, and every crash point of the
commit protocol is recovered without losing or duplicating a row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.runtime import Runtime
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.storage.clickhouse_ingest import ClickHouseIngestStore
from focusbase.tenancy.keys import create_key
from tests.ingest.conftest import Provider, envelope, row

pytest.importorskip("chdb")


def _settings(data_dir: Path, **profile: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        secret_key="test-secret-key",
        rate_limit_ingest_per_minute=100_000,
        rate_limit_read_per_minute=100_000,
        **profile,  # type: ignore[arg-type]
    )


@pytest.fixture
def scale(tmp_path: Path, postgres_url: str, chdb_path: Path) -> Settings:
    database = f"t_{uuid.uuid4().hex[:12]}"
    return _settings(
        tmp_path / "scale", catalog_url=postgres_url, warehouse_url=f"chdb://{chdb_path}?database={database}"
    )


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("FOCUSBASE_CATALOG_URL", raising=False)
    monkeypatch.delenv("FOCUSBASE_WAREHOUSE_URL", raising=False)
    return _settings(tmp_path / "embedded")


def _client(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        key = create_key(runtime.catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="admin", scopes=["admin"])
        yield client, {"Authorization": f"Bearer {key.key}"}


def _commit_parts(client: TestClient, provider: Provider, parts: list[list[dict[str, Any]]], **body: Any) -> Any:
    opened = client.post(f"/api/v1/providers/{provider.id}/batches", json=body, headers=provider.headers)
    assert opened.status_code == 201, opened.text
    batch_id = opened.json()["batchId"]
    for rows in parts:
        sent = client.post(f"/api/v1/batches/{batch_id}/parts", content=envelope(rows), headers=provider.headers)
        assert sent.status_code == 200, sent.text
    return client.post(f"/api/v1/batches/{batch_id}/commit", headers=provider.headers)


_VOLATILE = {"batchId", "details", "createdAt", "updatedAt", "committedAt", "expiresAt", "revertedAt", "id"}


def _stable(value: Any) -> Any:
    """A response without ids and times, which differ between two runs."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, str) and value[:4] in ("bat_", "prv_", "key_"):
        return value[:4] + "*"
    return value


def _history(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    """Everything the API says after the same requests: responses, History, records, totals."""
    acme = Provider(client, admin, "Acme", "USD")
    beta = Provider(client, admin, "Beta", "EUR")
    said: dict[str, Any] = {}
    key = {**acme.headers, "Idempotency-Key": "daily-1"}
    first = acme.push([row("2026-06-01", "10.25"), row("2026-06-02", "5"), row("2026-06-03", "7.125")], headers=key)
    replay = acme.push([row("2026-06-01", "10.25"), row("2026-06-02", "5"), row("2026-06-03", "7.125")], headers=key)
    said["push"], said["replay"] = first.json(), replay.json()
    said["replayed"] = replay.headers.get("Idempotent-Replayed")
    said["reused"] = acme.push([row("2026-06-01", "1")], headers=key).status_code
    said["restate"] = acme.push([row("2026-06-02", "6.5")]).json()
    said["range"] = acme.push(
        [row("2026-06-03", "1")], mode="replace_range", start="2026-06-03T00:00:00Z", end="2026-06-04T00:00:00Z"
    ).json()
    said["append"] = acme.push([row("2026-06-04", "2")], mode="append").json()
    said["multipart"] = _commit_parts(
        client, beta, [[row("2026-06-01", "100"), row("2026-06-02", "200")], [row("2026-06-02", "0.000000000001")]]
    ).json()
    said["rejected"] = beta.push([row("2026-06-05", "not money")]).json()
    said["partial"] = beta.push([row("2026-06-06", "3"), row("2026-06-06", "x")], allowPartial="true").json()
    revert_id = said["range"]["batchId"]
    said["revert"] = client.post(f"/api/v1/batches/{revert_id}/revert", headers=admin).json()
    said["revert_again"] = client.post(f"/api/v1/batches/{revert_id}/revert", headers=admin).status_code
    for provider in (acme, beta):
        listed = client.get(f"/api/v1/providers/{provider.id}/batches", headers=admin)
        said[f"history {provider.name}"] = listed.json()
    records = client.get("/focus/v1/cost-and-usage", params={"pageSize": 1000}, headers=admin).json()
    said["records"] = sorted(
        (r["ChargePeriodStart"], r["BilledCost"], r["BillingCurrency"]) for r in records["data"]
    )
    said["count"] = records["pagination"]["totalCount"] if "pagination" in records else len(records["data"])
    return _stable(said)


def test_the_same_requests_give_the_same_answers_on_both_warehouses(embedded: Settings, scale: Settings) -> None:
    for client, admin in _client(embedded):
        expected = _history(client, admin)
    for client, admin in _client(scale):
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert isinstance(runtime.ingest, ClickHouseIngestStore)
        got = _history(client, admin)
    for name in expected:
        assert got[name] == expected[name], name
    assert got == expected
    assert expected["replayed"] == "true" and expected["reused"] == 422
    assert expected["revert"]["status"] == "reverted" and expected["revert_again"] == 409
