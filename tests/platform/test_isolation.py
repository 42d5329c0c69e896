"""Workspaces never see each other: workspace A's admin key against workspace B's providers and keys."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import authenticate_key


def test_workspace_a_cannot_touch_workspace_b(
    client: TestClient, key_headers: Any, insert_cost_rows: Any
) -> None:
    a = key_headers(["admin"], workspace="team-a")
    b = key_headers(["admin"], workspace="team-b")
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    created = client.post(
        "/api/v1/providers", json={"name": "B's", "defaultCurrency": "USD"}, headers=b
    ).json()
    pid = created["id"]
    b_key = client.post("/api/v1/keys", json={"name": "b read", "scopes": ["read"]}, headers=b).json()
    b_principal = authenticate_key(runtime.catalog, b_key["key"])
    assert b_principal is not None
    insert_cost_rows(b_principal.workspace_id, pid, 2)

    assert client.get("/api/v1/providers", headers=a).json() == {"providers": []}
    a_keys = client.get("/api/v1/keys", headers=a).json()["keys"]
    assert {k["workspaceId"] for k in a_keys} == {a_keys[0]["workspaceId"]} != {b_principal.workspace_id}
    assert b_key["id"] not in {k["id"] for k in a_keys}

    attempts = [
        ("get", f"/api/v1/providers/{pid}", None),
        ("patch", f"/api/v1/providers/{pid}", {"name": "stolen"}),
        ("delete", f"/api/v1/providers/{pid}?confirm=true", None),
        ("post", f"/api/v1/providers/{pid}/ingest-key", None),
        ("post", f"/api/v1/providers/{pid}/periods/2026-01/finalize", None),
        ("get", f"/api/v1/providers/{pid}/periods", None),
        ("delete", f"/api/v1/keys/{b_key['id']}", None),
        ("delete", f"/api/v1/keys/{created['ingestKeyId']}", None),
    ]
    for method, path, body in attempts:
        response = client.request(method, path, headers=a, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"
    # A key limited to B's provider, asked for from A, does not exist there.
    scoped = client.post(
        "/api/v1/keys", json={"name": "x", "scopes": ["read"], "providerIds": [pid]}, headers=a
    )
    assert scoped.status_code == 400

    # Nothing of B's changed.
    still = client.get(f"/api/v1/providers/{pid}", headers=b).json()
    assert (
        still["name"] == "B's" and still["rowCount"] == 2 and still["ingestKeyId"] == created["ingestKeyId"]
    )
    assert authenticate_key(runtime.catalog, created["ingestKey"]) is not None
    assert authenticate_key(runtime.catalog, b_key["key"]) is not None
    assert client.get(f"/api/v1/providers/{pid}/periods", headers=b).json()["finalizedPeriods"] == []
    # And the default workspace sees none of it either.
    default = key_headers(["admin"])
    assert client.get("/api/v1/providers", headers=default).json() == {"providers": []}
    assert b_principal.workspace_id != DEFAULT_WORKSPACE_ID
