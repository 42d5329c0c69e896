"""The providers management API: create, list, get, patch, delete, rotate the ingest key; every error path."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import authenticate_key

ENVELOPE = {"code", "message", "details"}


def _create(client: TestClient, headers: dict, name: str = "Acme Cloud", currency: str = "USD") -> dict:
    response = client.post(
        "/api/v1/providers", json={"name": name, "defaultCurrency": currency}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_ingest_key_and_url_once(client: TestClient, admin_headers: dict) -> None:
    body = _create(client, admin_headers, currency="eur")
    assert body["id"].startswith("prv_") and body["name"] == "Acme Cloud" and body["defaultCurrency"] == "EUR"
    assert body["createdAt"].endswith("Z")
    assert body["ingestUrl"] == f"http://testserver/api/v1/public/ingest/focus/{body['id']}"
    principal = authenticate_key(client.app.state.runtime.catalog, body["ingestKey"])  # type: ignore[attr-defined]
    assert principal is not None and principal.kind == "ingest"
    assert principal.provider_ids == frozenset({body["id"]}) and principal.scopes == frozenset({"ingest"})
    # The key never appears again.
    for response in (
        client.get("/api/v1/providers", headers=admin_headers),
        client.get(f"/api/v1/providers/{body['id']}", headers=admin_headers),
        client.get("/api/v1/keys", headers=admin_headers),
    ):
        assert body["ingestKey"] not in response.text
        assert body["ingestKey"].rsplit("_", 1)[-1] not in response.text


def test_ingest_url_uses_public_url(client: TestClient, admin_headers: dict) -> None:
    client.app.state.runtime.settings.public_url = "https://costs.example.com/"  # type: ignore[attr-defined]
    body = _create(client, admin_headers)
    assert body["ingestUrl"] == f"https://costs.example.com/api/v1/public/ingest/focus/{body['id']}"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"name": "A", "defaultCurrency": "XYZ"}, "ISO 4217"),
        ({"name": "A", "defaultCurrency": "US"}, "ISO 4217"),
        ({"name": "   ", "defaultCurrency": "USD"}, "name"),
        ({"name": "A" * 201, "defaultCurrency": "USD"}, "name"),
        ({"defaultCurrency": "USD"}, "name"),
        ({"name": "A"}, "defaultCurrency"),
        ({"name": "A", "defaultCurrency": "USD", "colour": "red"}, "colour"),
    ],
)
def test_create_rejects_bad_input(
    client: TestClient, admin_headers: dict, payload: dict, fragment: str
) -> None:
    response = client.post("/api/v1/providers", json=payload, headers=admin_headers)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ENVELOPE and body["code"] == "invalid_request" and fragment in body["message"]


def test_create_rejects_a_body_that_is_not_json(client: TestClient, admin_headers: dict) -> None:
    response = client.post(
        "/api/v1/providers", content=b"{nope", headers={**admin_headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_request"


def test_auth_errors(client: TestClient, admin_headers: dict, key_headers: Any) -> None:
    provider = _create(client, admin_headers)
    routes = [
        ("post", "/api/v1/providers"),
        ("get", "/api/v1/providers"),
        ("get", f"/api/v1/providers/{provider['id']}"),
        ("patch", f"/api/v1/providers/{provider['id']}"),
        ("delete", f"/api/v1/providers/{provider['id']}"),
        ("post", f"/api/v1/providers/{provider['id']}/ingest-key"),
        ("post", f"/api/v1/providers/{provider['id']}/periods/2026-01/finalize"),
        ("get", f"/api/v1/providers/{provider['id']}/periods"),
    ]
    read = key_headers(["read"])
    ingest = {"Authorization": f"Bearer {provider['ingestKey']}"}
    for method, path in routes:
        kwargs = {"json": {"name": "x", "defaultCurrency": "USD"}} if method in ("post", "patch") else {}
        missing = client.request(method, path, **kwargs)
        assert missing.status_code == 401 and set(missing.json()) == ENVELOPE, path
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        wrong = client.request(method, path, headers={"X-API-Key": "fbk_key_00_nope"}, **kwargs)
        assert wrong.status_code == 401, path
        for headers in (read, ingest):
            forbidden = client.request(method, path, headers=headers, **kwargs)
            assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden", path


def test_list_get_patch(client: TestClient, admin_headers: dict, insert_cost_rows: Any) -> None:
    a = _create(client, admin_headers, "A")
    b = _create(client, admin_headers, "B", "GBP")
    insert_cost_rows(DEFAULT_WORKSPACE_ID, a["id"], 3, superseded=2)
    listed = client.get("/api/v1/providers", headers=admin_headers).json()["providers"]
    assert [(p["id"], p["rowCount"]) for p in listed] == [(a["id"], 3), (b["id"], 0)]
    assert all("ingestKey" not in p for p in listed)

    one = client.get(f"/api/v1/providers/{b['id']}", headers=admin_headers)
    assert one.status_code == 200 and one.json()["defaultCurrency"] == "GBP"

    patched = client.patch(
        f"/api/v1/providers/{b['id']}", json={"defaultCurrency": "jpy"}, headers=admin_headers
    )
    assert patched.status_code == 200
    assert patched.json()["defaultCurrency"] == "JPY" and patched.json()["name"] == "B"
    renamed = client.patch(f"/api/v1/providers/{b['id']}", json={"name": "Bee"}, headers=admin_headers).json()
    assert renamed["name"] == "Bee" and renamed["defaultCurrency"] == "JPY"
    assert renamed["updatedAt"] >= renamed["createdAt"]

    bad = client.patch(f"/api/v1/providers/{b['id']}", json={"defaultCurrency": "ZZZ"}, headers=admin_headers)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
    extra = client.patch(f"/api/v1/providers/{b['id']}", json={"id": "prv_x"}, headers=admin_headers)
    assert extra.status_code == 400
    for method in ("get", "patch", "delete"):
        missing = client.request(method, "/api/v1/providers/prv_missing", headers=admin_headers, json={})
        assert missing.status_code == 404 and set(missing.json()) == ENVELOPE
        assert missing.json()["code"] == "not_found"


def test_delete_with_data_needs_confirmation(
    client: TestClient, admin_headers: dict, insert_cost_rows: Any
) -> None:
    provider = _create(client, admin_headers)
    other = _create(client, admin_headers, "Other")
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    insert_cost_rows(DEFAULT_WORKSPACE_ID, provider["id"], 4, superseded=3)
    insert_cost_rows(DEFAULT_WORKSPACE_ID, other["id"], 2)

    refused = client.delete(f"/api/v1/providers/{provider['id']}", headers=admin_headers)
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "provider_has_data" and body["rows"] == 7 and "confirm=true" in body["message"]
    assert "7 stored rows" in body["message"]
    assert client.get(f"/api/v1/providers/{provider['id']}", headers=admin_headers).status_code == 200

    done = client.delete(f"/api/v1/providers/{provider['id']}?confirm=true", headers=admin_headers)
    assert done.status_code == 200
    assert done.json()["rowsDeleted"] == 7 and done.json()["costRowsDeleted"] == 7
    assert client.get(f"/api/v1/providers/{provider['id']}", headers=admin_headers).status_code == 404
    assert [p["id"] for p in client.get("/api/v1/providers", headers=admin_headers).json()["providers"]] == [
        other["id"]
    ]
    assert authenticate_key(runtime.catalog, provider["ingestKey"]) is None
    with runtime.warehouse.cursor() as cur:
        left = cur.execute("SELECT provider_id, count(*) FROM cost_rows GROUP BY ALL").fetchall()
    assert left == [(other["id"], 2)]
    again = client.delete(f"/api/v1/providers/{provider['id']}?confirm=true", headers=admin_headers)
    assert again.status_code == 404


def test_delete_empty_provider(client: TestClient, admin_headers: dict) -> None:
    provider = _create(client, admin_headers)
    done = client.delete(f"/api/v1/providers/{provider['id']}", headers=admin_headers)
    assert done.status_code == 200 and done.json()["rowsDeleted"] == 0
    bad = client.delete(f"/api/v1/providers/{provider['id']}?confirm=maybe", headers=admin_headers)
    assert bad.status_code == 400


def test_rotate_ingest_key(client: TestClient, admin_headers: dict) -> None:
    provider = _create(client, admin_headers)
    catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
    rotated = client.post(f"/api/v1/providers/{provider['id']}/ingest-key", headers=admin_headers)
    assert rotated.status_code == 201
    body = rotated.json()
    assert body["providerId"] == provider["id"] and body["ingestUrl"] == provider["ingestUrl"]
    assert authenticate_key(catalog, provider["ingestKey"]) is None
    principal = authenticate_key(catalog, body["ingestKey"])
    assert principal is not None and principal.key_id == body["keyId"]
    current = client.get(f"/api/v1/providers/{provider['id']}", headers=admin_headers).json()
    assert current["ingestKeyId"] == body["keyId"]
    missing = client.post("/api/v1/providers/prv_missing/ingest-key", headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_provider_limited_admin_key(client: TestClient, admin_headers: dict, key_headers: Any) -> None:
    a = _create(client, admin_headers, "A")
    b = _create(client, admin_headers, "B")
    limited = key_headers(["admin"], provider_ids=[a["id"]])
    listed = client.get("/api/v1/providers", headers=limited).json()["providers"]
    assert [p["id"] for p in listed] == [a["id"]]
    assert client.get(f"/api/v1/providers/{b['id']}", headers=limited).status_code == 404
    assert client.get(f"/api/v1/providers/{a['id']}", headers=limited).status_code == 200
    created = client.post("/api/v1/providers", json={"name": "C", "defaultCurrency": "USD"}, headers=limited)
    assert created.status_code == 403 and created.json()["code"] == "forbidden"
