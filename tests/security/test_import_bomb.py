"""Issue 13 item 4: a decompression bomb is refused at the limits: quickly, in bounded memory, nothing stored.

A real server runs with low limits (32 MiB of text, 20,000 rows) so the bombs stay small enough to build in
the test; the default limits are checked to be documented and to leave room for the 2 GB benchmark file.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from tests.imports.conftest import upload
from tests.imports.test_import_api import admin_and_provider
from tests.security.test_import_support import (
    MAX_ERROR_BODY,
    PEAK_RSS_BYTES,
    READ_WINDOW,
    Running,
    dir_bytes,
    gzip_bomb,
    real_server,
)

MAX_TEXT = 32 * 1024 * 1024
MAX_ROWS = 20_000
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    env = {
        "FOCUSBASE_IMPORT_MAX_DECOMPRESSED_BYTES": str(MAX_TEXT),
        "FOCUSBASE_IMPORT_MAX_ROWS": str(MAX_ROWS),
    }
    with real_server(tmp_path_factory.mktemp("bomb-server"), env) as server:
        yield server


def _assert_nothing_stored(running: Running, provider_id: str) -> list[dict[str, Any]]:
    stored = running.get("/focus/v1/cost-and-usage", **READ_WINDOW, pageSize=1)
    assert stored["totalRecords"] == 0
    history: list[dict[str, Any]] = running.get(f"/api/v1/providers/{provider_id}/batches")["batches"]
    assert all(batch["status"] == "failed" for batch in history)
    assert list((running.server.data_dir / "imports").iterdir()) == []  # the upload is deleted
    return history


def test_gzip_bomb_is_refused_before_it_is_read(running: Running, tmp_path: Path) -> None:
    # 1.9 MB of gzip holding 390 MB of rows: refused once 32 MiB are decompressed, before DuckDB sees it.
    bomb, text = gzip_bomb(tmp_path, 500_000)
    assert text > 10 * MAX_TEXT and bomb.stat().st_size < 4 * 1024 * 1024
    provider_id = running.provider("Bomb bytes")
    before = dir_bytes(running.server.data_dir)
    response = running.post_file(provider_id, bomb)
    assert response.status_code == 413, response.text
    assert len(response.content) < MAX_ERROR_BODY
    body = response.json()
    assert body["code"] == "file_too_large"
    assert f"{MAX_TEXT:,} bytes once decompressed" in body["message"]
    assert "FOCUSBASE_IMPORT_MAX_DECOMPRESSED_BYTES" in body["message"]
    assert _assert_nothing_stored(running, provider_id) == []  # refused before a batch was opened
    assert dir_bytes(running.server.data_dir) - before < 8 * 1024 * 1024
    assert running.peak_rss() < PEAK_RSS_BYTES


def test_row_bomb_stops_one_row_past_the_limit(running: Running, tmp_path: Path) -> None:
    # Within the byte limit but over the row limit: the single pass stops at row 20,001 and rolls back.
    bomb, text = gzip_bomb(tmp_path, 30_000)
    assert text < MAX_TEXT
    provider_id = running.provider("Bomb rows")
    before = dir_bytes(running.server.data_dir)
    response = running.post_file(provider_id, bomb)
    assert response.status_code == 413, response.text
    assert len(response.content) < MAX_ERROR_BODY
    body = response.json()
    assert body["code"] == "too_many_rows"
    assert (
        f"more than {MAX_ROWS:,} rows" in body["message"] and "FOCUSBASE_IMPORT_MAX_ROWS" in body["message"]
    )
    history = _assert_nothing_stored(running, provider_id)
    assert [batch["failureReason"] for batch in history] == [body["message"]]
    assert dir_bytes(running.server.data_dir) - before < 16 * 1024 * 1024
    assert running.peak_rss() < PEAK_RSS_BYTES


def test_a_file_within_the_limits_still_imports(running: Running, tmp_path: Path) -> None:
    path, _ = gzip_bomb(tmp_path, 2_000, name="fine.csv.gz")
    provider_id = running.provider("Fine")
    response = running.post_file(provider_id, path)
    assert response.status_code == 200, response.text
    assert response.json()["lineItemsCreated"] == 2_000


def _wait(client: TestClient, headers: dict[str, str], batch_id: str) -> dict[str, Any]:
    for _ in range(600):
        batch: dict[str, Any] = client.get(f"/api/v1/batches/{batch_id}", headers=headers).json()
        if batch["status"] not in ("received", "validating"):
            return batch
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not finish")


def test_background_import_goes_by_decompressed_size_and_fails_its_batch(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        secret_key="k",
        import_background_bytes=1024 * 1024,
        import_max_decompressed_bytes=16 * 1024 * 1024,
    )
    bomb, text = gzip_bomb(tmp_path, 100_000)
    fine, fine_text = gzip_bomb(tmp_path, 3_000, name="fine.csv.gz")
    # Both uploads are under the background threshold; their text is over it.
    assert bomb.stat().st_size < 1024 * 1024 < fine_text < 16 * 1024 * 1024 < text
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "Background")
        response = upload(client, headers, pid, bomb)
        assert response.status_code == 202, response.text
        batch = _wait(client, headers, response.json()["batchId"])
        assert batch["status"] == "failed"
        assert "FOCUSBASE_IMPORT_MAX_DECOMPRESSED_BYTES" in batch["failureReason"]
        assert batch["lineItemsCreated"] == 0
        response = upload(client, headers, pid, fine)
        assert response.status_code == 202, response.text
        batch = _wait(client, headers, response.json()["batchId"])
        assert batch["status"] == "committed", batch
        assert batch["lineItemsCreated"] == 3_000
    # The background job deletes its upload just after the batch is settled; the app has stopped since.
    assert list((settings.data_dir / "imports").iterdir()) == []


@pytest.mark.parametrize("single_pass", [True, False])
def test_plain_csv_over_the_row_limit_stores_nothing(tmp_path: Path, single_pass: bool) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        secret_key="k",
        import_max_rows=1_000,
        import_part_rows=400,
        import_single_pass=single_pass,
    )
    path = tmp_path / "rows.csv"
    lines = ["ChargePeriodStart,BilledCost,ServiceName,ChargeCategory,BillingCurrency"]
    lines += [f"2025-03-{1 + i % 28:02d},{i}.25,svc,Usage,USD" for i in range(1_001)]
    path.write_text("\n".join(lines) + "\n")
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "Rows")
        response = upload(client, headers, pid, path)
        assert response.status_code == 413, response.text
        assert response.json()["code"] == "too_many_rows"
        stored = client.get(
            "/focus/v1/cost-and-usage", params={**READ_WINDOW, "pageSize": 1}, headers=headers
        )
        assert stored.json()["totalRecords"] == 0
        history = client.get(f"/api/v1/providers/{pid}/batches", headers=headers).json()["batches"]
        assert [b["status"] for b in history] == ["failed"]
        # One row fewer is within the limit and imports.
        path.write_text("\n".join(lines[:-1]) + "\n")
        response = upload(client, headers, pid, path)
        assert response.status_code == 200, response.text
        assert response.json()["lineItemsCreated"] == 1_000


def test_parquet_limits_are_read_from_the_footer(tmp_path: Path) -> None:
    parquet = REPO / "tests" / "cases" / "imports" / "aws_focus_1_0-00001.snappy.parquet"
    for limits, code in (
        ({"import_max_rows": 2}, "too_many_rows"),
        ({"import_max_decompressed_bytes": 100}, "file_too_large"),
    ):
        settings = Settings(data_dir=tmp_path / code, secret_key="k").model_copy(update=limits)
        with TestClient(create_app(settings)) as client:
            headers, pid = admin_and_provider(client, "Parquet")
            response = upload(client, headers, pid, parquet)
            assert response.status_code == 413, response.text
            assert response.json()["code"] == code
            assert client.get(f"/api/v1/providers/{pid}/batches", headers=headers).json()["batches"] == []


def test_default_limits_are_documented_and_fit_the_benchmark_file() -> None:
    defaults = Settings()
    operations = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    for name, value in (
        ("FOCUSBASE_IMPORT_MAX_DECOMPRESSED_BYTES", defaults.import_max_decompressed_bytes),
        ("FOCUSBASE_IMPORT_MAX_ROWS", defaults.import_max_rows),
    ):
        assert re.search(rf"^\| `{name}` \| `{value}`", operations, re.M), name
    # The import benchmark's 2 GB file (about 2.8 million rows of 768 bytes) stays well within them.
    assert defaults.import_max_decompressed_bytes >= 4 * 2 * 1024**3
    assert defaults.import_max_rows >= 3 * 2_800_000
    imports = (REPO / "docs" / "import.md").read_text(encoding="utf-8")
    assert "file_too_large" in imports and "too_many_rows" in imports
