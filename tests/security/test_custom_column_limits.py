"""Custom-column limits across a batch's parts, exports of rows stored with thousands of x_ keys, a private
data directory, and engine errors told without the engine's internals."""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.storage.warehouse import engine_error_reason
from focusbase.tenancy.keys import create_key
from tests.export.conftest import wait_for_job
from tests.ingest.conftest import envelope, row

EXPORT = "/focus/v1/cost-and-usage/export"


def start(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str], str]]:
    with TestClient(create_app(settings)) as client:
        catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
        key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="a", scopes=["admin"]).key
        admin = {"Authorization": f"Bearer {key}"}
        created = client.post(
            "/api/v1/providers", json={"name": "Wide", "defaultCurrency": "USD"}, headers=admin
        )
        assert created.status_code == 201, created.text
        ingest = {"Authorization": f"Bearer {created.json()['ingestKey']}"}
        yield client, admin, ingest, created.json()["id"]


@pytest.fixture
def small_limits(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str], str]]:
    yield from start(
        Settings(
            data_dir=tmp_path / "data",
            secret_key="test",
            max_custom_columns_per_row=4,
            max_custom_columns_per_batch=5,
        )
    )


def test_parts_of_one_batch_share_the_batch_limit(
    small_limits: tuple[TestClient, dict[str, str], dict[str, str], str],
) -> None:
    client, _, ingest, provider_id = small_limits
    opened = client.post(f"/api/v1/providers/{provider_id}/batches", json={}, headers=ingest)
    assert opened.status_code == 201, opened.text
    batch_id = opened.json()["batchId"]

    def part(*names: str) -> Any:
        rows = [row("2026-06-01", "2.5", **dict.fromkeys(names, "v"))]
        return client.post(f"/api/v1/batches/{batch_id}/parts", content=envelope(rows), headers=ingest)

    assert part("x_a", "x_b", "x_c").status_code == 200
    assert part("x_a", "x_d").status_code == 200  # x_a again: four distinct names so far
    refused = part("x_e", "x_f")
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "too_many_custom_columns"
    assert f"bring batch {batch_id} to 6 distinct custom (x_) columns; at most 5" in body["message"]
    too_wide = part("x_a", "x_b", "x_c", "x_d", "x_e")
    assert too_wide.status_code == 422 and "at most 4 are accepted per row" in too_wide.json()["message"]
    # The refused parts changed nothing: the batch is open and commits the two accepted parts.
    committed = client.post(f"/api/v1/batches/{batch_id}/commit", headers=ingest)
    assert committed.status_code == 200, committed.text
    assert committed.json()["lineItemsCreated"] == 2
    assert part("x_e").status_code == 409  # committed: no more parts


@pytest.fixture
def stored_wide(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str], str]]:
    """Rows stored with 4,000 distinct x_ keys, as a server without limits (or with high ones) accepted."""
    settings = Settings(
        data_dir=tmp_path / "data",
        secret_key="test",
        max_custom_columns_per_row=10_000,
        max_custom_columns_per_batch=10_000,
    )
    for client, admin, ingest, provider_id in start(settings):
        rows = [
            row(f"2026-06-0{day}", "1.5", **{f"x_D{day}_{i:04d}": f"{day}-{i}" for i in range(2_000)})
            for day in (1, 2)
        ]
        pushed = client.post(
            f"/api/v1/public/ingest/focus/{provider_id}",
            content=envelope(rows),
            headers={**ingest, "Content-Type": "application/json"},
        )
        assert pushed.status_code == 200, pushed.text
        yield client, admin, ingest, provider_id


def download(client: TestClient, url: str) -> bytes:
    parts = urlsplit(url)
    response = client.get(parts.path, params={k: v[0] for k, v in parse_qs(parts.query).items()})
    assert response.status_code == 200, response.text
    return response.content


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_rows_with_thousands_of_custom_keys_still_export_every_value(
    stored_wide: tuple[TestClient, dict[str, str], dict[str, str], str], fmt: str
) -> None:
    client, admin, _, _ = stored_wide
    created = client.post(
        EXPORT,
        json={
            "billingPeriodStart": "2026-06-01T00:00:00Z",
            "billingPeriodEnd": "2026-07-01T00:00:00Z",
            "format": fmt,
        },
        headers=admin,
    )
    assert created.status_code == 202, created.text
    job = wait_for_job(client, admin, created.json()["jobId"], timeout=120)
    assert job["status"] == "Complete", job
    data = download(client, job["downloadUrl"])
    if fmt == "parquet":
        records = pq.read_table(io.BytesIO(data)).to_pylist()
    elif fmt == "csv":
        records = list(csv.DictReader(io.StringIO(data.decode())))
    else:
        records = [orjson.loads(line) for line in data.splitlines() if line]
    assert len(records) == 2
    custom = [name for name in records[0] if name.startswith("x_")]
    # The first 500 names are columns; every value of every row is in x_CustomColumns.
    assert custom[:500] == sorted(f"x_D1_{i:04d}" for i in range(2_000))[:500]
    assert custom[500:] == ["x_CustomColumns"]
    by_day = {str(r["ChargePeriodStart"])[:10]: r for r in records}
    first, second = by_day["2026-06-01"], by_day["2026-06-02"]
    assert first["x_D1_0007"] == "1-7" and second["x_D1_0007"] in (None, "")
    whole = orjson.loads(second["x_CustomColumns"])
    assert {k: v for k, v in whole.items() if v is not None} == {
        f"x_D2_{i:04d}": f"2-{i}" for i in range(2_000)
    }


@pytest.mark.embedded_only("the permissions of warehouse.duckdb")
def test_the_data_directory_and_its_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    (data_dir / "old-export.csv").write_text("x")
    (data_dir / "old-export.csv").chmod(0o644)
    for client, admin, ingest, provider_id in start(Settings(data_dir=data_dir, secret_key=None)):
        client.post(
            f"/api/v1/public/ingest/focus/{provider_id}",
            content=envelope([row("2026-06-01", "1")]),
            headers={**ingest, "Content-Type": "application/json"},
        )
        client.get("/focus/v1/cost-and-usage", params={"pageSize": 1}, headers=admin)
        modes = {
            path.relative_to(data_dir).as_posix(): stat.S_IMODE(path.stat().st_mode)
            for path in [data_dir, *data_dir.rglob("*")]
        }
    assert modes.pop(".") == 0o700
    assert {"warehouse.duckdb", "secret.key", "old-export.csv"} <= set(modes)
    # The catalog is a file here too, unless it is a PostgreSQL one (FOCUSBASE_CATALOG_URL).
    assert ("catalog.sqlite" in modes) is not bool(os.environ.get("FOCUSBASE_CATALOG_URL"))
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert loose == {}


def test_engine_errors_are_described_without_engine_internals() -> None:
    con = duckdb.connect(config={"memory_limit": "8MB", "threads": 1})
    with pytest.raises(duckdb.OutOfMemoryException) as raised:
        con.execute(
            "SELECT string_agg(repeat('x', 1000), ',') FROM range(200000) GROUP BY range % 50000"
        ).fetchall()
    assert "Possible solutions" in str(raised.value)
    reason = engine_error_reason(raised.value)
    assert reason == "the warehouse ran out of memory (FOCUSBASE_DUCKDB_MEMORY_LIMIT)"
    assert (
        engine_error_reason(OSError(28, "No space left on device"))
        == "OSError: [Errno 28] No space left on device"
    )
    internal = duckdb.InternalException("INTERNAL Error: Attempted to access index 3 within vector of size 3")
    assert "vector" not in engine_error_reason(internal)
