"""The keys management API: create, list (no secrets), revoke; scopes and provider limits; error paths."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

ENVELOPE = {"code", "message", "details"}


def _provider(client: TestClient, headers: dict, name: str = "P") -> str:
    response = client.post(
        "/api/v1/providers", json={"name": name, "defaultCurrency": "USD"}, headers=headers
    )
    assert response.status_code == 201
    provider_id: str = response.json()["id"]
    return provider_id


def test_create_list_revoke(client: TestClient, admin_headers: dict) -> None:
    provider_id = _provider(client, admin_headers)
    created = client.post(
        "/api/v1/keys",
        json={"name": "bi tool", "scopes": ["read"], "providerIds": [provider_id]},
        headers=admin_headers,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("key_") and body["key"].startswith(f"fbk_{body['id']}_")
    assert body["scopes"] == ["read"] and body["providerIds"] == [provider_id]

    # Both header forms work for the new key; it has read but not admin.
    assert client.get("/api/v1/keys", headers={"X-API-Key": body["key"]}).status_code == 403
    assert client.get("/api/v1/keys", headers={"Authorization": f"Bearer {body['key']}"}).status_code == 403

    listed = client.get("/api/v1/keys", headers=admin_headers)
    assert listed.status_code == 200
    entry = next(k for k in listed.json()["keys"] if k["id"] == body["id"])
    assert entry["name"] == "bi tool" and entry["kind"] == "api" and entry["revokedAt"] is None
    secret = body["key"].split("_", 3)[3]
    assert secret not in listed.text and "secret" not in listed.text

    revoked = client.delete(f"/api/v1/keys/{body['id']}", headers=admin_headers)
    assert revoked.status_code == 204 and revoked.content == b""
    assert client.get("/api/v1/keys", headers={"X-API-Key": body["key"]}).status_code == 401
    entry = next(
        k for k in client.get("/api/v1/keys", headers=admin_headers).json()["keys"] if k["id"] == body["id"]
    )
    assert entry["revokedAt"] is not None
    again = client.delete(f"/api/v1/keys/{body['id']}", headers=admin_headers)
    assert again.status_code == 404 and set(again.json()) == ENVELOPE


def test_admin_key_manages_everything(client: TestClient, admin_headers: dict) -> None:
    created = client.post(
        "/api/v1/keys", json={"name": "ops", "scopes": ["admin"]}, headers=admin_headers
    ).json()
    assert created["providerIds"] is None
    other = {"X-API-Key": created["key"]}
    assert (
        client.post(
            "/api/v1/providers", json={"name": "X", "defaultCurrency": "USD"}, headers=other
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"name": "k", "scopes": []}, "scopes"),
        ({"name": "k", "scopes": ["owner"]}, "scopes"),
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"scopes": ["read"]}, "name"),
        ({"name": "k", "scopes": ["read"], "providerIds": ["prv_missing"]}, "prv_missing"),
        ({"name": "k", "scopes": ["read"], "providerIds": []}, "providerIds"),
        ({"name": "k", "scopes": "read"}, "scopes"),
        ({"name": "k", "scopes": ["read"], "workspaceId": "ws_other"}, "workspaceId"),
    ],
)
def test_create_rejects_bad_input(
    client: TestClient, admin_headers: dict, payload: dict, fragment: str
) -> None:
    response = client.post("/api/v1/keys", json=payload, headers=admin_headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == ENVELOPE and body["code"] == "invalid_request" and fragment in body["message"]


def test_auth_errors(client: TestClient, key_headers: Any) -> None:
    read = key_headers(["read", "ingest"])
    for method, path in (("post", "/api/v1/keys"), ("get", "/api/v1/keys"), ("delete", "/api/v1/keys/key_x")):
        kwargs = {"json": {"name": "k", "scopes": ["read"]}} if method == "post" else {}
        assert client.request(method, path, **kwargs).status_code == 401
        forbidden = client.request(method, path, headers=read, **kwargs)
        assert forbidden.status_code == 403 and set(forbidden.json()) == ENVELOPE


def test_provider_limited_admin_cannot_widen_access(
    client: TestClient, admin_headers: dict, key_headers: Any
) -> None:
    a = _provider(client, admin_headers, "A")
    b = _provider(client, admin_headers, "B")
    limited = key_headers(["admin"], provider_ids=[a])
    unlimited = client.post("/api/v1/keys", json={"name": "k", "scopes": ["read"]}, headers=limited)
    assert unlimited.status_code == 403 and unlimited.json()["code"] == "forbidden"
    wider = client.post(
        "/api/v1/keys", json={"name": "k", "scopes": ["read"], "providerIds": [a, b]}, headers=limited
    )
    assert wider.status_code == 403 and b in wider.json()["message"]
    same = client.post(
        "/api/v1/keys", json={"name": "k", "scopes": ["read"], "providerIds": [a]}, headers=limited
    )
    assert same.status_code == 201
    # It sees only keys limited to its providers, and cannot revoke the others.
    visible = {k["id"] for k in client.get("/api/v1/keys", headers=limited).json()["keys"]}
    everything = client.get("/api/v1/keys", headers=admin_headers).json()["keys"]
    assert same.json()["id"] in visible
    assert all(set(k["providerIds"] or ["*"]) <= {a} for k in everything if k["id"] in visible)
    hidden = next(k["id"] for k in everything if k["id"] not in visible)
    assert client.delete(f"/api/v1/keys/{hidden}", headers=limited).status_code == 404


def test_last_used_is_recorded(client: TestClient, admin_headers: dict) -> None:
    listed = client.get("/api/v1/keys", headers=admin_headers).json()["keys"]
    (admin,) = listed
    assert admin["lastUsedAt"] is not None and admin["lastUsedAt"] >= admin["createdAt"]
    created = client.post(
        "/api/v1/keys", json={"name": "idle", "scopes": ["read"]}, headers=admin_headers
    ).json()
    idle = next(
        k
        for k in client.get("/api/v1/keys", headers=admin_headers).json()["keys"]
        if k["id"] == created["id"]
    )
    assert idle["lastUsedAt"] is None
