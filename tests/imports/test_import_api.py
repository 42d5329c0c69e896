"""File import through the HTTP API: preview, import, saved mappings, cloud exports, broken files."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.conftest import CASES
from tests.imports.conftest import IMPORTS, upload

READ_WINDOW = {"billingPeriodStart": "2024-01-01T00:00:00Z", "billingPeriodEnd": "2026-01-01T00:00:00Z"}


def _records(client: TestClient, headers: dict[str, str], provider_id: str) -> list[dict[str, Any]]:
    response = client.get(
        "/focus/v1/cost-and-usage", params={**READ_WINDOW, "pageSize": 10000}, headers=headers
    )
    assert response.status_code == 200, response.text
    return [r for r in response.json()["data"] if r.get("BillingAccountId") or True]


def _batches(client: TestClient, headers: dict[str, str], provider_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/providers/{provider_id}/batches", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return list(body["batches"])


def test_vantage_export_maps_straight_in(
    client: TestClient, admin_headers: dict[str, str], provider_id: str
) -> None:
    response = upload(client, admin_headers, provider_id, IMPORTS / "vantage_custom_provider.csv")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "committed"
    assert body["mappingSource"] == "auto"
    assert (body["rowsReceived"], body["lineItemsCreated"], body["rowsRejected"]) == (3, 3, 0)
    assert Decimal(body["sums"]["USD"]["BilledCost"]) == Decimal("1229.60")
    assert body["mapping"]["columns"]["BilledCost"] == {"source": "BilledCost", "number": "money"}
    batch = body["batch"]
    assert (batch["source"], batch["fileName"], batch["fileSize"]) == (
        "csv",
        "vantage_custom_provider.csv",
        504,
    )
    assert batch["progress"]["phase"] == "done" and batch["progress"]["percent"] == 100.0
    history = client.get(f"/api/v1/batches/{batch['id']}", headers=admin_headers).json()
    assert history["mapping"]["mapping"]["columns"]["BilledCost"]["source"] == "BilledCost"
    records = _records(client, admin_headers, provider_id)
    costs = sorted(Decimal(str(r["BilledCost"])) for r in records)
    assert costs == [Decimal("-5"), Decimal("0.1"), Decimal("1234.5")]
    tagged = [r for r in records if r.get("Tags")]
    assert {r["Tags"].get("env") for r in tagged} == {"prod", "dev"}


def test_preview_shows_format_proposals_rows_and_findings(
    client: TestClient, admin_headers: dict[str, str], provider_id: str
) -> None:
    response = upload(
        client, admin_headers, provider_id, IMPORTS / "vantage_custom_provider.csv", preview=True
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["file"]["format"] == "csv" and body["file"]["delimiter"] == ","
    assert body["file"]["encoding"] == "utf-8" and len(body["file"]["columns"]) == 13
    proposal = next(p for p in body["proposals"] if p["column"] == "BilledCost")
    assert proposal == {
        "column": "BilledCost",
        "source": "BilledCost",
        "confidence": 1.0,
        "reason": "exact FOCUS column name",
        "status": "auto",
    }
    assert [r["BilledCost"] for r in body["rows"]] == ["1234.50", "0.10", "-5.00"]
    assert body["sampleRows"] == 3 and body["findingCount"] == 0
    # A preview stores nothing.
    assert _batches(client, admin_headers, provider_id) == []


def test_vendor_file_needs_an_accepted_mapping_which_is_then_saved(
    client: TestClient, admin_headers: dict[str, str], provider_id: str
) -> None:
    path = IMPORTS / "vendor_semicolon_decimal_comma.csv"
    preview = upload(client, admin_headers, provider_id, path, preview=True).json()
    assert preview["mapping"]["columns"] == {}  # vendor headers are never applied silently
    suggested = {p["source"]: p for p in preview["proposals"]}
    assert suggested["Cost"]["status"] == "suggested" and suggested["Cost"]["confidence"] < 0.9
    assert preview["suggestedMapping"]["columns"]["ChargePeriodStart"]["dateFormat"] == "%d/%m/%Y"
    refused = upload(client, admin_headers, provider_id, path)
    assert refused.status_code == 422
    assert refused.json()["code"] == "mapping_invalid"
    assert refused.json()["proposals"] and "not mapped" in refused.json()["message"]
    assert _batches(client, admin_headers, provider_id) == []

    mapping = dict(preview["suggestedMapping"])
    mapping["columns"] = {**mapping["columns"], "ChargeCategory": {"value": "Usage"}}
    mapping["tags"] = {"env": "Environment", "team": "Team"}
    mapping["custom"] = {"x_Notes": "Notes"}
    accepted = upload(client, admin_headers, provider_id, path, mapping=mapping)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["mappingSource"] == "request"
    assert Decimal(accepted.json()["sums"]["EUR"]["BilledCost"]) == Decimal("1222.10")

    saved = client.get(f"/api/v1/providers/{provider_id}/mapping", headers=admin_headers)
    assert saved.status_code == 200
    assert saved.json()["mapping"]["tags"] == {"env": "Environment", "team": "Team"}
    # The next import of the same shape reuses the saved mapping, and says so.
    shown = upload(client, admin_headers, provider_id, path, preview=True).json()
    assert shown["mappingSource"] == "saved"
    assert shown["savedMappingUpdatedAt"] == saved.json()["updatedAt"]
    assert shown["findingCount"] == 0 and len(shown["rows"]) == 3
    again = upload(client, admin_headers, provider_id, path)
    assert again.status_code == 200, again.text
    assert again.json()["mappingSource"] == "saved"
    assert again.json()["replaced"]["rows"] == 3
    records = _records(client, admin_headers, provider_id)
    assert sorted(r["x_Notes"] for r in records if r.get("x_Notes")) == ["first\nline", "x"]


def test_mapping_get_put_delete(client: TestClient, admin_headers: dict[str, str], provider_id: str) -> None:
    url = f"/api/v1/providers/{provider_id}/mapping"
    assert client.get(url, headers=admin_headers).json()["code"] == "not_found"
    bad = client.put(url, json={"columns": {"BilledCost": {}}}, headers=admin_headers)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_mapping"
    doc = {
        "columns": {
            "ServiceName": {"value": "Datadog"},
            "BilledCost": {"source": "Amount", "number": "money"},
        }
    }
    put = client.put(url, json=doc, headers=admin_headers)
    assert put.status_code == 200, put.text
    assert put.json()["mapping"]["columns"]["ServiceName"] == {"value": "Datadog"}
    assert client.get(url, headers=admin_headers).json()["updatedAt"] == put.json()["updatedAt"]
    assert client.delete(url, headers=admin_headers).status_code == 204
    assert client.get(url, headers=admin_headers).status_code == 404


def test_official_focus_1_0_sample_needs_explicit_options(
    client: TestClient, admin_headers: dict[str, str], provider_id: str
) -> None:
    path = CASES / "samples" / "focus-1.0-official-sample.csv"
    refused = upload(client, admin_headers, provider_id, path)
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "mapping_invalid"
    assert any(p["location"] == "Id" and "not mapped" in p["message"] for p in body["problems"])

    # Without the options the NULL strings and space-separated timestamps are rejected row by row.
    mapping = {"ignore": ["Id"], **_auto(path)}
    no_options = upload(client, admin_headers, provider_id, path, mapping=mapping)
    assert no_options.status_code == 422
    assert no_options.json()["code"] == "validation_failed"
    codes = {e["code"] for e in no_options.json()["errors"]}
    assert {"null-placeholder", "datetime-format"} <= codes

    # With them, only the sample's real defects remain (ResourceType without ResourceId and the like).
    options = {"nullStrings": ["NULL"], "lenientTimestamps": True}
    strict = upload(client, admin_headers, provider_id, path, mapping=mapping, options=options)
    assert strict.status_code == 422
    codes = {e["code"] for e in strict.json()["errors"]}
    assert codes and not codes & {"null-placeholder", "datetime-format"}
    ok = upload(
        client, admin_headers, provider_id, path, mapping=mapping, options=options, allowPartial="true"
    )
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert (body["rowsReceived"], body["lineItemsCreated"], body["rowsRejected"]) == (1000, 82, 918)
    assert body["mapping"]["options"]["nullStrings"] == ["NULL"]
    assert body["batch"]["source"] == "csv" and body["batch"]["fileSize"] == 755423
    records = _records(client, admin_headers, provider_id)
    assert len(records) == 82
    assert all(r["ChargePeriodStart"].endswith("Z") for r in records)
    assert all(r.get("ChargeClass") is None for r in records)
    batches = _batches(client, admin_headers, provider_id)
    assert [b["status"] for b in batches][:1] == ["committed"]
    assert {b["status"] for b in batches[1:]} == {"failed"}


def _auto(path: Path) -> dict[str, Any]:
    header = path.read_text(encoding="utf-8").splitlines()[0].replace('"', "").split(",")
    return {"columns": {h: {"source": h} for h in header if h != "Id"}}


@pytest.mark.parametrize(
    ("name", "export", "x_column", "x_value"),
    [
        ("aws_focus_1_2-00001.csv.gz", "aws-data-exports", "x_ServiceCode", "AmazonEC2"),
        ("aws_focus_1_0-00001.snappy.parquet", "aws-data-exports", "x_UsageType", "BoxUsage:m5.large"),
        ("azure_focuscost_1_0.csv", "azure-focuscost", "x_ResourceGroupName", "rg-prod"),
        ("gcp_focus_bigquery.csv", "gcp-focus", None, None),
        ("oci_focus_report-00001.csv.gz", "oci-focus", "x_oci_CompartmentName", "prod"),
    ],
)
def test_cloud_exports_import_as_they_come(
    client: TestClient,
    admin_headers: dict[str, str],
    provider_id: str,
    name: str,
    export: str,
    x_column: str | None,
    x_value: str | None,
) -> None:
    response = upload(client, admin_headers, provider_id, IMPORTS / name)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["detectedExport"]["key"] == export
    assert body["lineItemsCreated"] == 3
    assert body["source"] == ("parquet" if name.endswith(".parquet") else "csv")
    assert Decimal(body["sums"]["USD"]["BilledCost"]) == Decimal("112.500123")
    records = _records(client, admin_headers, provider_id)
    assert len(records) == 3
    if x_column is not None:
        assert {r[x_column] for r in records} >= {x_value}
    if export == "gcp-focus":
        assert body["mapping"]["options"]["lenientTimestamps"] is True
        assert any("lenientTimestamps" in note for note in body["notes"])


def test_contract_commitment_dataset_by_file(
    client: TestClient, admin_headers: dict[str, str], provider_id: str
) -> None:
    total = 0
    for cloud, rows in (("aws", 21), ("azure", 22), ("gcp", 23)):
        path = IMPORTS / f"focus_sample_contractcommitment_{cloud}.csv"
        response = upload(
            client, admin_headers, provider_id, path, dataset="ContractCommitment", mode="append"
        )
        assert response.status_code == 200, response.text
        assert response.json()["dataset"] == "ContractCommitment"
        assert response.json()["lineItemsCreated"] == rows
        total += rows
    listed = client.get("/focus/v1/contract-commitments", params={"pageSize": 1000}, headers=admin_headers)
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["data"]) == total


BROKEN = [
    ("broken_empty.csv", "empty_file"),
    ("broken_header_only.csv", "no_rows"),
    ("broken_zero_rows.parquet", "no_rows"),
    ("broken_ragged.csv", "unreadable_file"),
    ("broken_duplicate_headers.csv", "duplicate_columns"),
    ("broken_maps_nothing.csv", "mapping_invalid"),
    ("broken_not_utf8.csv", "bad_encoding"),
    ("broken_truncated.csv.gz", "unreadable_file"),
    ("broken_bad_values.csv", "validation_failed"),
]


@pytest.mark.parametrize(("name", "code"), BROKEN)
def test_broken_files_get_a_clear_error_and_store_nothing(
    client: TestClient, admin_headers: dict[str, str], provider_id: str, name: str, code: str
) -> None:
    for preview in (True, False):
        response = upload(client, admin_headers, provider_id, IMPORTS / name, preview=preview)
        if preview and code in ("mapping_invalid", "validation_failed", "no_rows"):
            assert response.status_code == 200, response.text
            continue
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["code"] == code
        assert body["message"]
    assert _records(client, admin_headers, provider_id) == []
    assert {b["status"] for b in _batches(client, admin_headers, provider_id)} <= {"failed"}
    assert list((client.app.state.runtime.settings.data_dir / "imports").iterdir()) == []  # type: ignore[attr-defined]


def test_bad_values_name_row_and_column(
    client: TestClient, admin_headers: dict[str, str], provider_id: str
) -> None:
    response = upload(client, admin_headers, provider_id, IMPORTS / "broken_bad_values.csv")
    body = response.json()
    assert response.status_code == 422
    rows = {(e["row"], e["column"]) for e in body["errors"]}
    assert (2, "BilledCost") in rows and (3, "ChargeCategory") in rows
    partial = upload(
        client, admin_headers, provider_id, IMPORTS / "broken_bad_values.csv", allowPartial="true"
    )
    assert partial.status_code == 200, partial.text
    assert (partial.json()["lineItemsCreated"], partial.json()["rowsRejected"]) == (1, 2)


def test_request_errors(client: TestClient, admin_headers: dict[str, str], provider_id: str) -> None:
    path = IMPORTS / "vantage_custom_provider.csv"
    assert upload(client, admin_headers, provider_id, path, mode="nope").json()["code"] == "invalid_mode"
    assert upload(client, admin_headers, provider_id, path, dataset="Nope").status_code == 400
    bad_mapping = upload(client, admin_headers, provider_id, path, mapping={"columns": {"X": 1}})
    assert bad_mapping.status_code == 400 and bad_mapping.json()["code"] == "invalid_mapping"
    not_json = client.post(
        f"/api/v1/providers/{provider_id}/imports",
        headers=admin_headers,
        files={"file": ("a.csv", b"a\n1\n")},
        data={"mapping": "{"},
    )
    assert not_json.status_code == 400
    no_file = client.post(
        f"/api/v1/providers/{provider_id}/imports", headers=admin_headers, data={"mode": "append"}
    )
    assert no_file.status_code in (400, 415)
    raw = client.post(f"/api/v1/providers/{provider_id}/imports", headers=admin_headers, content=b"a,b\n")
    assert raw.status_code == 415 and raw.json()["code"] == "unsupported_media_type"
    assert upload(client, admin_headers, "prv_missing", path).status_code == 404
    assert upload(client, {}, provider_id, path).status_code == 401


def test_ingest_key_of_another_provider_is_refused(
    client: TestClient, admin_headers: dict[str, str], provider_id: str
) -> None:
    other = client.post(
        "/api/v1/providers", json={"name": "Other", "defaultCurrency": "EUR"}, headers=admin_headers
    )
    other_key = other.json()["ingestKey"]
    response = upload(
        client, {"Authorization": f"Bearer {other_key}"}, provider_id, IMPORTS / "vantage_custom_provider.csv"
    )
    assert response.status_code == 403
    own = upload(
        client,
        {"Authorization": f"Bearer {other_key}"},
        other.json()["id"],
        IMPORTS / "vantage_custom_provider.csv",
    )
    assert own.status_code == 200, own.text


def admin_and_provider(client: TestClient, name: str) -> tuple[dict[str, str], str]:
    """An admin key's headers and a new USD provider, for tests that start their own app."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    key = create_key(runtime.catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="a", scopes=["admin"])
    headers = {"Authorization": f"Bearer {key.key}"}
    created = client.post("/api/v1/providers", json={"name": name, "defaultCurrency": "USD"}, headers=headers)
    assert created.status_code == 201, created.text
    return headers, str(created.json()["id"])


def test_large_files_run_in_the_background_with_progress(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", secret_key="k", import_background_bytes=1000, import_part_rows=500
    )
    path = tmp_path / "big.csv"
    lines = ["ChargePeriodStart,BilledCost,ServiceName,ChargeCategory,BillingCurrency"]
    lines += [f"2025-03-{1 + i % 28:02d},{i}.01,svc{i % 5},Usage,USD" for i in range(3000)]
    path.write_text("\n".join(lines) + "\n")
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "Big")
        response = upload(client, headers, pid, path)
        assert response.status_code == 202, response.text
        batch_id = response.json()["batchId"]
        seen: list[dict[str, Any]] = []
        for _ in range(600):
            batch = client.get(f"/api/v1/batches/{batch_id}", headers=headers).json()
            seen.append(batch["progress"] or {})
            if batch["status"] not in ("received", "validating"):
                break
            time.sleep(0.05)
        assert batch["status"] == "committed", batch
        assert batch["lineItemsCreated"] == 3000
        assert batch["progress"]["rowsRead"] == 3000 and batch["progress"]["percent"] == 100.0
        expected = sum(Decimal(f"{i}.01") for i in range(3000))
        assert Decimal(batch["sums"]["USD"]["BilledCost"]) == expected


def test_shutdown_during_a_background_import_leaves_no_partial_batch(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", secret_key="k", import_background_bytes=1000, import_part_rows=200
    )
    path = tmp_path / "big.csv"
    lines = ["ChargePeriodStart,BilledCost,ServiceName,ChargeCategory,BillingCurrency"]
    lines += [f"2025-03-{1 + i % 28:02d},{i}.5,svc,Usage,USD" for i in range(20_000)]
    path.write_text("\n".join(lines) + "\n")
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "Big")
        response = upload(client, headers, pid, path)
        assert response.status_code == 202
        batch_id = response.json()["batchId"]
    # The server stopped mid-import: the batch either committed whole or failed whole.
    with TestClient(create_app(settings)) as client:
        batch = client.get(f"/api/v1/batches/{batch_id}", headers=headers).json()
        stored = client.get(
            "/focus/v1/cost-and-usage", params={**READ_WINDOW, "pageSize": 1}, headers=headers
        ).json()
        if batch["status"] == "committed":
            assert stored["totalRecords"] == 20_000
        else:
            assert batch["status"] == "failed"
            assert "interrupted" in batch["failureReason"]
            assert stored["totalRecords"] == 0


def test_files_over_the_size_limit_are_refused_without_a_trace(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="k", import_max_bytes=100)
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "P")
        response = upload(client, headers, pid, IMPORTS / "vantage_custom_provider.csv")
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
        assert list((settings.data_dir / "imports").iterdir()) == []


def test_a_bad_row_in_a_late_part_rolls_back_every_part_written_before_it(tmp_path: Path) -> None:
    # The parts of a file are written in one transaction of the batch: a rejection in part 5 of 5 must
    # leave no row of parts 1 to 4, staged or live, and the next import must start clean.
    settings = Settings(data_dir=tmp_path / "data", secret_key="k", import_part_rows=200)
    header = "ChargePeriodStart,BilledCost,ServiceName,ChargeCategory,BillingCurrency"
    good = [f"2025-03-{1 + i % 28:02d},{i}.25,svc,Usage,USD" for i in range(1000)]
    bad = list(good)
    bad[949] = "2025-03-01,12.5 USD,svc,Usage,USD"
    bad_path, good_path = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad_path.write_text("\n".join([header, *bad]) + "\n")
    good_path.write_text("\n".join([header, *good]) + "\n")
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        headers, pid = admin_and_provider(client, "Parts")
        response = upload(client, headers, pid, bad_path)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["row"] == 950
        with runtime.warehouse.cursor() as cur:
            assert cur.execute("SELECT count(*) FROM cost_rows").fetchall() == [(0,)]
        response = upload(client, headers, pid, good_path)
        assert response.status_code == 200, response.text
        assert response.json()["batch"]["lineItemsCreated"] == 1000
        with runtime.warehouse.cursor() as cur:
            assert cur.execute('SELECT count(*), sum("BilledCost") FROM live_cost_rows').fetchall() == [
                (1000, sum(Decimal(f"{i}.25") for i in range(1000)))
            ]
            assert cur.execute("SELECT count(*) FROM cost_rows").fetchall() == [(1000,)]


def test_parts_are_stored_one_row_group_each_and_in_file_order(tmp_path: Path) -> None:
    # On the part path, a part of the default size is one DuckDB row group. DuckDB reads a part in many
    # small record batches; handed over like that, a part became two row groups. Rows keep the file's order,
    # on disk and by row_seq. (The single pass, for clean files, stores rows in the order its threads write.)
    settings = Settings(
        data_dir=tmp_path / "data", secret_key="k", import_background_bytes=1 << 40, import_single_pass=False
    )
    rows = 122_880 + 1_000
    path = tmp_path / "two-parts.csv"
    lines = ["ChargePeriodStart,BilledCost,ServiceName,ChargeCategory,BillingCurrency,ResourceId"]
    lines += [f"2025-03-{1 + i % 28:02d},{i % 97}.5,svc{i % 7},Usage,USD,res-{i:06d}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        headers, pid = admin_and_provider(client, "RowGroups")
        response = upload(client, headers, pid, path)
        assert response.status_code == 200, response.text
        assert response.json()["batch"]["lineItemsCreated"] == rows
        with runtime.warehouse.cursor() as cur:
            groups = cur.execute(
                "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('cost_rows') "
                "WHERE column_name = 'ResourceId'"
            ).fetchall()
            by_seq = cur.execute('SELECT "ResourceId" FROM cost_rows ORDER BY row_seq').fetchall()
            on_disk = cur.execute('SELECT "ResourceId" FROM cost_rows ORDER BY rowid').fetchall()
    assert groups == [(2,)]
    expected = [(f"res-{i:06d}",) for i in range(rows)]
    assert by_seq == expected
    assert on_disk == expected
