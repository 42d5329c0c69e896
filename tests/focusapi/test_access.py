"""Authentication, scopes and isolation: a key sees only its workspace, and only its providers if limited."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.storage import Catalog, Warehouse
from focusbase.tenancy.keys import create_key
from focusbase.tenancy.providers import create_provider
from focusbase.tenancy.workspaces import ensure_workspace
from tests.focusapi.conftest import Loaded, read_headers
from tests.focusapi.loader import commit_rows, make_rows, month

PATHS = ["/focus/v1/cost-and-usage", "/focus/v1/contract-commitments", "/focus/v1/schema"]
COMMITMENTS = [
    {
        "ContractCommitmentId": "cc-1",
        "ContractId": "c-1",
        "ContractCommitmentCategory": "Spend",
        "ContractCommitmentType": "Savings Plan",
        "ContractCommitmentCost": "1000.50",
        "BillingCurrency": "USD",
        "ContractCommitmentDescription": "one year",
        "ContractCommitmentPeriodStart": "2025-01-01 00:00:00",
        "ContractCommitmentPeriodEnd": "2026-01-01 00:00:00",
        "ContractPeriodStart": "2025-01-01 00:00:00",
        "ContractPeriodEnd": "2026-01-01 00:00:00",
        "x_columns": '{"x_BillingAccountId": "acct-1"}',
    }
]


@pytest.mark.parametrize("path", PATHS)
def test_missing_and_invalid_keys_are_401(client: TestClient, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer fbk_key_0000_nope"}, {"X-API-Key": "garbage"}):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized" and response.json()["message"]


@pytest.mark.parametrize("path", PATHS)
def test_ingest_keys_are_403_and_admin_and_read_keys_work(
    client: TestClient, catalog: Catalog, path: str
) -> None:
    provider = create_provider(catalog, "ws_default", name="P", default_currency="USD")
    ingest = client.get(path, headers={"Authorization": f"Bearer {provider.ingest_key.key}"})
    assert ingest.status_code == 403 and ingest.json()["code"] == "forbidden"
    ingest_scoped = create_key(catalog, workspace_id="ws_default", name="i", scopes=["ingest"]).key
    assert client.get(path, headers={"X-API-Key": ingest_scoped}).status_code == 403
    admin = create_key(catalog, workspace_id="ws_default", name="a", scopes=["admin"]).key
    assert client.get(path, headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    assert client.get(path, headers=read_headers(catalog)).status_code == 200


def test_workspace_keys_never_see_other_workspaces(
    client: TestClient, catalog: Catalog, warehouse: Warehouse, loaded: Loaded
) -> None:
    other = ensure_workspace(catalog, "tenant-b")
    commit_rows(warehouse, make_rows(40, 9, [month(2025, 1)]), workspace_id=other.id, provider_id="prv_other")
    commit_rows(
        warehouse, COMMITMENTS, workspace_id=other.id, provider_id="prv_other", dataset="ContractCommitment"
    )
    mine = client.get(
        "/focus/v1/cost-and-usage", params={"pageSize": 10000}, headers=read_headers(catalog)
    ).json()
    theirs = client.get(
        "/focus/v1/cost-and-usage", params={"pageSize": 10000}, headers=read_headers(catalog, other.id)
    ).json()
    assert mine["totalRecords"] == 420 and theirs["totalRecords"] == 40
    assert not {r["ChargeDescription"] for r in mine["data"]} & {
        r["ChargeDescription"] for r in theirs["data"]
    }
    # every filter value of the other workspace still finds nothing of it
    for record in theirs["data"][:5]:
        probe = client.get(
            "/focus/v1/cost-and-usage",
            params={
                "resourceId": record["ResourceId"] or "",
                "serviceName": record["ServiceName"],
                "pageSize": 10000,
            },
            headers=read_headers(catalog),
        ).json()
        assert all(r["ChargeDescription"].startswith(("charge 1-", "charge 2-")) for r in probe["data"])
    assert client.get("/focus/v1/contract-commitments", headers=read_headers(catalog)).json()["data"] == []
    cc = client.get("/focus/v1/contract-commitments", headers=read_headers(catalog, other.id)).json()
    assert [r["ContractCommitmentId"] for r in cc["data"]] == ["cc-1"]
    # custom columns of the other workspace are not listed in this workspace's schema
    commit_rows(
        warehouse,
        [{**make_rows(1, 3, [month(2025, 1)])[0], "x_columns": '{"x_Secret": "s"}'}],
        workspace_id=other.id,
    )
    names = {
        c["columnName"]
        for c in client.get("/focus/v1/schema", headers=read_headers(catalog)).json()["columns"]
    }
    assert "x_Secret" not in names
    theirs_names = {
        c["columnName"]
        for c in client.get("/focus/v1/schema", headers=read_headers(catalog, other.id)).json()["columns"]
    }
    assert "x_Secret" in theirs_names


def test_provider_limited_keys_see_only_their_providers(
    client: TestClient, catalog: Catalog, loaded: Loaded
) -> None:
    only_a = client.get(
        "/focus/v1/cost-and-usage",
        params={"pageSize": 10000},
        headers=read_headers(catalog, providers=[loaded.provider_a]),
    ).json()
    only_b = client.get(
        "/focus/v1/cost-and-usage",
        params={"pageSize": 10000},
        headers=read_headers(catalog, providers=[loaded.provider_b]),
    ).json()
    assert only_a["totalRecords"] == 300 and {r["ChargeDescription"][:8] for r in only_a["data"]} == {
        "charge 1"
    }
    assert only_b["totalRecords"] == 120 and {r["ChargeDescription"][:8] for r in only_b["data"]} == {
        "charge 2"
    }
    nobody = client.get(
        "/focus/v1/cost-and-usage", headers=read_headers(catalog, providers=["prv_unknown"])
    ).json()
    assert nobody["data"] == [] and nobody["totalRecords"] == 0
    both = client.get(
        "/focus/v1/cost-and-usage",
        headers=read_headers(catalog, providers=[loaded.provider_a, loaded.provider_b]),
    ).json()
    assert both["totalRecords"] == 420


def test_reads_are_rate_limited_per_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "limited", secret_key="s", rate_limit_read_per_minute=2)
    with TestClient(create_app(settings)) as client:
        catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
        headers = read_headers(catalog)
        other = read_headers(catalog)
        statuses = [client.get("/focus/v1/cost-and-usage", headers=headers).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = client.get("/focus/v1/schema", headers=headers)
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1 and "RateLimit-Limit" in refused.headers
        assert client.get("/focus/v1/contract-commitments", headers=other).status_code == 200  # per key
