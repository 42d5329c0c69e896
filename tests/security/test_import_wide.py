"""Issue 13 item 7: a file header with thousands of custom columns is refused from the header, quickly.

The header is counted with the csv module (Parquet: from the footer) before DuckDB parses the file; the
exact number of custom columns a row would carry is checked once the mapping is known.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.focus import all_column_names
from tests.imports.conftest import upload
from tests.imports.test_import_api import admin_and_provider
from tests.security.test_import_support import (
    MAX_ERROR_BODY,
    PEAK_RSS_BYTES,
    READ_WINDOW,
    clean_row,
    new_provider,
    real_server,
)

WIDE = 10_000
LIMIT = Settings().max_custom_columns_per_row


@pytest.fixture
def provider_id(client: TestClient, admin_headers: dict[str, str]) -> str:
    return new_provider(client, admin_headers)


def _wide_csv(tmp_path: Path, custom: int, *, gz: bool = False) -> Path:
    header, row = clean_row(tmp_path)
    extra_header = b"".join(b",x_c%d" % i for i in range(custom))
    extra_row = b"".join(b",v%d" % i for i in range(custom))
    text = header + extra_header + b"\n" + row + extra_row + b"\n"
    path = tmp_path / ("wide.csv.gz" if gz else "wide.csv")
    path.write_bytes(gzip.compress(text) if gz else text)
    return path


def _assert_refused(
    client: TestClient, headers: dict[str, str], provider_id: str, response: Response
) -> dict[str, str]:
    assert response.status_code == 422, response.text[:2000]
    assert len(response.content) < MAX_ERROR_BODY
    body: dict[str, str] = response.json()
    assert body["code"] == "too_many_custom_columns"
    assert "FOCUSBASE_MAX_CUSTOM_COLUMNS_PER_ROW" in body["message"]
    assert "Possible solutions" not in response.text and "Out of Memory" not in response.text
    stored = client.get("/focus/v1/cost-and-usage", params={**READ_WINDOW, "pageSize": 1}, headers=headers)
    assert stored.json()["totalRecords"] == 0
    assert client.get(f"/api/v1/providers/{provider_id}/batches", headers=headers).json()["batches"] == []
    return body


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("preview", [False, True])
def test_ten_thousand_custom_columns_are_refused_from_the_header(
    client: TestClient,
    admin_headers: dict[str, str],
    provider_id: str,
    tmp_path: Path,
    gz: bool,
    preview: bool,
) -> None:
    path = _wide_csv(tmp_path, WIDE, gz=gz)
    response = upload(client, admin_headers, provider_id, path, preview=preview)
    body = _assert_refused(client, admin_headers, provider_id, response)
    width = LIMIT + len(all_column_names())
    assert f"the header has {57 + WIDE:,} columns, more than the {width:,}" in body["message"]
    assert f"{LIMIT:,} custom columns" in body["message"]


def test_wide_parquet_is_refused_from_its_footer(
    client: TestClient, admin_headers: dict[str, str], provider_id: str, tmp_path: Path
) -> None:
    columns = {"BilledCost": pa.array(["1.0"]), **{f"x_c{i}": pa.array([f"v{i}"]) for i in range(WIDE)}}
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table(columns), path)
    body = _assert_refused(
        client, admin_headers, provider_id, upload(client, admin_headers, provider_id, path)
    )
    assert f"the header has {WIDE + 1:,} columns" in body["message"]


def test_custom_columns_are_counted_after_the_mapping(tmp_path: Path) -> None:
    # Under the header bound but over the custom limit: the count names the columns the rows would carry;
    # ignoring a few of them brings the file under the limit, and it imports.
    settings = Settings(data_dir=tmp_path / "data", secret_key="k", max_custom_columns_per_row=10)
    path = _wide_csv(tmp_path, 12)
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "Custom")
        response = upload(client, headers, pid, path)
        body = _assert_refused(client, headers, pid, response)
        assert "the file has 12 custom (x_) columns, more than the limit of 10" in body["message"]
        header, _ = clean_row(tmp_path)
        columns = {name: {"source": name} for name in header.decode().split(",")}
        columns["ServiceProviderName"] = {"source": "ProviderName"}
        mapping = {"columns": columns, "ignore": ["x_c0", "x_c1"]}
        response = upload(client, headers, pid, path, mapping=mapping)
        assert response.status_code == 200, response.text[:2000]
        assert response.json()["lineItemsCreated"] == 1
        stored = client.get("/focus/v1/cost-and-usage", params=READ_WINDOW, headers=headers).json()
        assert stored["totalRecords"] == 1


def test_a_file_at_the_limit_imports(
    client: TestClient, admin_headers: dict[str, str], provider_id: str, tmp_path: Path
) -> None:
    response = upload(client, admin_headers, provider_id, _wide_csv(tmp_path, LIMIT))
    assert response.status_code == 200, response.text[:2000]
    assert response.json()["lineItemsCreated"] == 1


def test_a_data_row_wider_than_any_file_is_refused_before_the_sniffer(
    client: TestClient, admin_headers: dict[str, str], provider_id: str, tmp_path: Path
) -> None:
    # A narrow header over rows of ten thousand fields: counted from the first rows, not left to the sniffer.
    header, row = clean_row(tmp_path)
    wide = row + b"".join(b",v%d" % i for i in range(WIDE)) + b"\n"
    path = tmp_path / "wide-rows.csv"
    path.write_bytes(header + b"\n" + wide * 300)
    body = _assert_refused(
        client, admin_headers, provider_id, upload(client, admin_headers, provider_id, path)
    )
    assert f"data row 1 of the file has at least {57 + WIDE:,} fields" in body["message"]


@pytest.mark.embedded_only("a server process of its own cannot open this process's chDB")
def test_wide_file_against_a_real_server_in_bounded_memory(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    path = _wide_csv(tmp_path, WIDE)
    with real_server(tmp_path_factory.mktemp("wide-server"), {}) as running:
        provider_id = running.provider("Wide")
        for _ in range(3):
            response = running.post_file(provider_id, path)
            assert response.status_code == 422, response.text[:2000]
            assert len(response.content) < MAX_ERROR_BODY
            assert response.json()["code"] == "too_many_custom_columns"
        assert running.get(f"/api/v1/providers/{provider_id}/batches")["batches"] == []
        assert running.peak_rss() < PEAK_RSS_BYTES
