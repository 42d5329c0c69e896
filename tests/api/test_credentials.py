"""Every credential a request presents must be valid: one good key never excuses a bad or different one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from focusbase.storage import Catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key, revoke_key

# One operation per family that reads its key through the shared authentication dependency.
OPERATIONS = [
    ("GET", "/focus/v1/cost-and-usage"),
    ("GET", "/focus/v1/contract-commitments"),
    ("GET", "/focus/v1/schema"),
    ("GET", "/focus/v1/cost-and-usage/export/exp_missing"),
    ("GET", "/api/v1/keys"),
    ("GET", "/api/v1/providers"),
]


@pytest.fixture
def good(catalog: Catalog) -> str:
    return create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="good", scopes=["admin"]).key


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> object:
    return client.request(method, path, headers=headers)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@pytest.mark.parametrize(
    "bad_headers",
    [
        {"X-API-Key": "fbk_key_0000000000000000_forged"},  # valid Authorization, invalid X-API-Key
        {"Authorization": "Bearer fbk_key_0000000000000000_forged"},  # the reverse (good key in X-API-Key)
        {"Authorization": "Basic dXNlcjpwYXNz"},  # a scheme we do not take
        {"Authorization": "Bearer "},  # a bearer without a key
    ],
    ids=["bad-x-api-key", "bad-bearer", "basic", "empty-bearer"],
)
def test_any_invalid_credential_is_401(
    client: TestClient, good: str, method: str, path: str, bad_headers: dict[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {good}", "X-API-Key": good, **bad_headers}
    response = client.request(method, path, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert len(response.content) < 1_000


def test_two_different_valid_keys_are_401(client: TestClient, catalog: Catalog, good: str) -> None:
    other = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="other", scopes=["admin"]).key
    response = client.get("/api/v1/keys", headers={"Authorization": f"Bearer {good}", "X-API-Key": other})
    assert response.status_code == 401
    assert "different keys" in response.json()["message"]


def test_a_revoked_key_beside_a_valid_one_is_401(client: TestClient, catalog: Catalog, good: str) -> None:
    revoked = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="old", scopes=["read"])
    assert revoke_key(catalog, DEFAULT_WORKSPACE_ID, revoked.id)
    response = client.get(
        "/focus/v1/cost-and-usage", headers={"Authorization": f"Bearer {good}", "X-API-Key": revoked.key}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        lambda key: {"Authorization": f"Bearer {key}"},
        lambda key: {"X-API-Key": key},
        lambda key: {"Authorization": f"Bearer {key}", "X-API-Key": key},  # the same key twice
        lambda key: {"Authorization": f"Bearer {key}", "X-API-Key": "  "},  # an empty header is absent
        lambda key: {"Authorization": "", "X-API-Key": key},
    ],
    ids=["bearer", "x-api-key", "both-same", "empty-x-api-key", "empty-authorization"],
)
def test_valid_credentials_are_served(client: TestClient, good: str, headers: object) -> None:
    assert callable(headers)
    response = client.get("/focus/v1/schema", headers=headers(good))
    assert response.status_code == 200, response.text
