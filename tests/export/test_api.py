"""The export endpoints: request validation, auth, workspace isolation, status shape and signed downloads."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from focusbase.config import Settings
from focusbase.export import service, signing
from focusbase.storage import Catalog, Warehouse
from focusbase.tenancy.keys import create_key
from tests.export.conftest import WINDOW, cost_row, insert_cost_rows

URL = "/focus/v1/cost-and-usage/export"


def _workspace(catalog: Catalog, workspace_id: str) -> None:
    with catalog.transaction() as tx:
        tx.execute(
            "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, '2025-01-01T00:00:00Z')",
            (workspace_id, workspace_id),
        )


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"format": "xlsx"}, "format"),
        ({"focusVersion": "0.5"}, "focusVersion"),
        ({"format": "parquet", "compression": "gzip"}, "Parquet files are always compressed"),
        ({"compression": "zip"}, "compression"),
        ({"focusVersion": "1.2", "includeContractCommitments": True}, "exists only in FOCUS 1.3"),
        ({"chargeCategory": "Consumption"}, "is not a FOCUS ChargeCategory"),
        ({"providerNam": "typo"}, "providerNam"),
        ({"billingPeriodStart": "last tuesday"}, "billingPeriodStart"),
    ],
)
def test_invalid_requests_are_400(
    client: TestClient, admin_headers: dict[str, str], extra: dict[str, Any], fragment: str
) -> None:
    body = {"billingPeriodStart": WINDOW[0], "billingPeriodEnd": WINDOW[1], **extra}
    resp = client.post(URL, json=body, headers=admin_headers)
    assert resp.status_code == 400, resp.text
    error = resp.json()
    assert error["code"] == "invalid_request" and set(error) >= {"code", "message", "details"}
    assert fragment in error["message"] + str(error["details"])


def test_missing_window_is_400(client: TestClient, admin_headers: dict[str, str]) -> None:
    resp = client.post(URL, json={"format": "csv"}, headers=admin_headers)
    assert resp.status_code == 400 and "billingPeriodStart" in resp.text


def test_auth(client: TestClient, catalog: Catalog) -> None:
    body = {"billingPeriodStart": WINDOW[0], "billingPeriodEnd": WINDOW[1]}
    resp = client.post(URL, json=body)
    assert resp.status_code == 401 and resp.json()["code"] == "unauthorized"
    ingest_only = create_key(catalog, workspace_id="ws_default", name="i", scopes=["ingest"]).key
    resp = client.post(URL, json=body, headers=_bearer(ingest_only))
    assert resp.status_code == 403 and resp.json()["code"] == "forbidden"
    assert client.get(f"{URL}/exp_nothing").status_code == 401


def test_accepted_job_shape(client: TestClient, admin_headers: dict[str, str]) -> None:
    body = {"billingPeriodStart": WINDOW[0], "billingPeriodEnd": WINDOW[1], "format": "parquet"}
    resp = client.post(URL, json=body, headers=admin_headers)
    assert resp.status_code == 202
    job = resp.json()
    assert job["status"] in ("Pending", "Processing", "Complete")
    assert job["jobId"].startswith("exp_") and job["createdAt"].endswith("Z")
    assert job["format"] == "parquet" and job["focusVersion"] == "1.3" and job["compression"] is None
    assert job["includeContractCommitments"] is False
    assert set(job["progress"]) == {"rowsWritten", "totalRows", "percent"}


def test_jobs_are_isolated_by_workspace_and_provider_scope(
    client: TestClient, catalog: Catalog, warehouse: Warehouse, run_export: Callable[..., dict[str, Any]]
) -> None:
    insert_cost_rows(warehouse, [cost_row(i) for i in range(5)], provider_id="prv_a")
    insert_cost_rows(warehouse, [cost_row(i) for i in range(7)], provider_id="prv_b")
    _workspace(catalog, "ws_other")
    insert_cost_rows(
        warehouse, [cost_row(i) for i in range(11)], workspace_id="ws_other", provider_id="prv_c"
    )
    mine = create_key(catalog, workspace_id="ws_default", name="all", scopes=["read"]).key
    only_a = create_key(
        catalog, workspace_id="ws_default", name="a", scopes=["read"], provider_ids=["prv_a"]
    ).key
    other = create_key(catalog, workspace_id="ws_other", name="o", scopes=["read"]).key

    job = run_export(headers=_bearer(mine))
    assert job["recordCount"] == 12
    scoped = run_export(headers=_bearer(only_a))
    assert scoped["recordCount"] == 5  # the key's provider scope applies to the export
    theirs = run_export(headers=_bearer(other))
    assert theirs["recordCount"] == 11

    for key, job_id in ((other, job["jobId"]), (only_a, job["jobId"]), (mine, theirs["jobId"])):
        resp = client.get(f"{URL}/{job_id}", headers=_bearer(key))
        assert resp.status_code == 404, (key, job_id)
        assert resp.json()["code"] == "export_not_found"
    assert client.get(f"{URL}/{scoped['jobId']}", headers=_bearer(mine)).status_code == 200
    assert client.get(f"{URL}/exp_unknown", headers=_bearer(mine)).status_code == 404


def _query(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_signed_download_url(
    client: TestClient, loaded: Warehouse, run_export: Callable[..., dict[str, Any]]
) -> None:
    job = run_export(format="csv")
    path, params = _query(job["downloadUrl"])
    assert path == f"{URL}/{job['jobId']}/download"
    assert job["downloadUrl"].startswith("http://testserver/")
    expires = int(params["expires"])
    assert time.time() < expires <= time.time() + signing.DOWNLOAD_URL_TTL_SECONDS + 1

    ok = client.get(job["downloadUrl"])  # no API key: the signature is the credential
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/csv")
    assert job["fileName"] in ok.headers["content-disposition"]
    assert len(ok.content) == job["fileSize"]

    tampered = {
        **params,
        "signature": params["signature"][:-1] + ("0" if params["signature"][-1] != "0" else "1"),
    }
    resp = client.get(f"{path}?{urlencode(tampered)}")
    assert resp.status_code == 403 and resp.json()["code"] == "invalid_signature"
    longer = {**params, "expires": str(expires + 3600)}
    assert client.get(f"{path}?{urlencode(longer)}").json()["code"] == "invalid_signature"
    other_job = f"{URL}/exp_000000000000000000000000/download?{urlencode(params)}"
    assert client.get(other_job).json()["code"] == "invalid_signature"
    assert client.get(path).status_code == 400  # no signature at all


def test_expired_download_url(
    client: TestClient, settings: Settings, loaded: Warehouse, run_export: Callable[..., dict[str, Any]]
) -> None:
    job = run_export(format="csv")
    path, _ = _query(job["downloadUrl"])
    secret = signing.server_secret(settings)
    past = int(time.time()) - 5
    query = f"expires={past}&signature={signing.sign(secret, job['jobId'], past)}"
    resp = client.get(f"{path}?{query}")
    assert resp.status_code == 403 and resp.json()["code"] == "download_link_expired"


def test_download_of_unfinished_or_expired_job(
    client: TestClient,
    settings: Settings,
    catalog: Catalog,
    loaded: Warehouse,
    run_export: Callable[..., dict[str, Any]],
) -> None:
    secret = signing.server_secret(settings)
    query = signing.download_query(secret, "exp_missing")
    resp = client.get(f"{URL}/exp_missing/download?{query}")
    assert resp.status_code == 404 and resp.json()["code"] == "export_not_found"

    job = run_export(format="csv")
    service.sweep_expired(settings, catalog, now=datetime(2999, 1, 1, tzinfo=UTC))
    resp = client.get(job["downloadUrl"])
    assert resp.status_code == 410 and resp.json()["code"] == "export_expired"
    status = client.get(
        f"{URL}/{job['jobId']}", headers={"Authorization": "Bearer " + _admin(catalog)}
    ).json()
    assert status["status"] == "Complete" and status["expired"] is True and status["downloadUrl"] is None


def _admin(catalog: Catalog) -> str:
    return create_key(catalog, workspace_id="ws_default", name="admin2", scopes=["admin"]).key


def test_generated_secret_is_stable(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    first = signing.server_secret(settings)
    assert len(first) == 64 and signing.server_secret(settings) == first
    assert oct((tmp_path / "d" / signing.SECRET_FILE).stat().st_mode)[-3:] == "600"
    assert signing.check_signature(first, "exp_1", 10, signing.sign(first, "exp_1", 10), now=9) is None
    assert signing.check_signature(first, "exp_1", 10, signing.sign(first, "exp_1", 10), now=10) == "expired"
    assert (
        signing.check_signature(b"other", "exp_1", 10, signing.sign(first, "exp_1", 10), now=9) == "invalid"
    )


def test_openapi_extensions_describe_every_field(
    client: TestClient, loaded: Warehouse, run_export: Callable[..., dict[str, Any]]
) -> None:
    from focusbase.api.exports import openapi_extensions
    from focusbase.api.openapi import load_seed

    doc = load_seed()
    openapi_extensions(doc)
    schemas = doc["components"]["schemas"]
    job = run_export(format="csv")
    assert set(job) <= set(schemas["ExportJobResponse"]["properties"])
    assert set(job["progress"]) == set(schemas["ExportJobResponse"]["properties"]["progress"]["properties"])
    request = schemas["ExportRequest"]
    assert request["additionalProperties"] is False
    assert {"focusVersion", "compression", "providerName", "billingCurrency"} <= set(request["properties"])
    assert request["properties"]["compression"]["enum"] == ["gzip"]
