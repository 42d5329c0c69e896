"""History page tokens are signed and bound to workspace and provider: forged or foreign ones are 400."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.ingest.conftest import Provider, row
from tests.security.conftest import AdminOf

MAX_ERROR_BYTES = 2_000


def _history(client: TestClient, provider_id: str, headers: dict[str, str], **params: Any) -> Any:
    return client.get(f"/api/v1/providers/{provider_id}/batches", params=params, headers=headers)


def _refused(resp: Any) -> None:
    assert resp.status_code == 400, resp.text
    assert len(resp.content) < MAX_ERROR_BYTES
    body = resp.json()
    assert body["code"] == "invalid_page_token" and body["details"] == "pageToken"
    assert set(body) == {"code", "message", "details"}


@pytest.fixture
def walked(client: TestClient, admin_headers: dict[str, str]) -> tuple[Provider, list[str], str]:
    """A provider with three batches, its batch ids newest first, and the token of History's second page."""
    provider = Provider(client, admin_headers, "Acme Cloud", "USD")
    ids = [provider.push([row(f"2026-06-0{d}", "1")]).json()["batchId"] for d in (1, 2, 3)]
    first = _history(client, provider.id, admin_headers, pageSize=1).json()
    assert [b["id"] for b in first["batches"]] == [ids[2]]
    return provider, ids[::-1], first["nextPageToken"]


def test_issued_tokens_walk_every_batch_once(
    client: TestClient, admin_headers: dict[str, str], walked: tuple[Provider, list[str], str]
) -> None:
    provider, ids, token = walked
    seen = [ids[0]]
    while token is not None:
        page = _history(client, provider.id, admin_headers, pageSize=1, pageToken=token)
        assert page.status_code == 200, page.text
        seen += [b["id"] for b in page.json()["batches"]]
        token = page.json()["nextPageToken"]
    assert seen == ids


def test_forged_plain_base64_token_is_refused(
    client: TestClient, admin_headers: dict[str, str], walked: tuple[Provider, list[str], str]
) -> None:
    provider, _, _ = walked
    # The unsigned form earlier versions issued, pointing past every batch.
    forged = base64.urlsafe_b64encode(orjson.dumps(["2999-01-01T00:00:00", "bat_z"])).decode().rstrip("=")
    _refused(_history(client, provider.id, admin_headers, pageToken=forged))


@pytest.mark.parametrize("position", [0, -1, 10])
def test_tampered_token_is_refused(
    client: TestClient, admin_headers: dict[str, str], walked: tuple[Provider, list[str], str], position: int
) -> None:
    provider, _, token = walked
    flipped = "A" if token[position] != "A" else "B"
    tampered = token[:position] + flipped + token[position + 1 :] if position != -1 else token[:-1] + flipped
    _refused(_history(client, provider.id, admin_headers, pageToken=tampered))


def test_token_of_another_provider_is_refused(
    client: TestClient, admin_headers: dict[str, str], walked: tuple[Provider, list[str], str]
) -> None:
    _, _, token = walked
    other = Provider(client, admin_headers, "Other Cloud", "USD")
    other.push([row("2026-06-01", "1")])
    _refused(_history(client, other.id, admin_headers, pageToken=token))


def test_token_used_in_another_workspace_is_refused(
    client: TestClient, admin_of: AdminOf, walked: tuple[Provider, list[str], str]
) -> None:
    _, _, token = walked
    foreign_admin = admin_of("team-b")
    foreign = Provider(client, foreign_admin, "Acme Cloud", "USD")
    foreign.push([row("2026-06-01", "1")])
    _refused(_history(client, foreign.id, foreign_admin, pageToken=token))


def test_signed_token_of_the_focus_api_is_refused(
    client: TestClient, admin_headers: dict[str, str], walked: tuple[Provider, list[str], str]
) -> None:
    provider, _, _ = walked
    page = client.get("/focus/v1/cost-and-usage", params={"pageSize": 1}, headers=admin_headers).json()
    assert page["nextPageToken"] is not None  # three rows are stored
    _refused(_history(client, provider.id, admin_headers, pageToken=page["nextPageToken"]))


@pytest.mark.parametrize("token", ["!!", "a.b", "x" * 600, "\u00ff\u00fe.\u00fd"])
def test_malformed_token_is_refused(
    client: TestClient, admin_headers: dict[str, str], walked: tuple[Provider, list[str], str], token: str
) -> None:
    provider, _, _ = walked
    _refused(_history(client, provider.id, admin_headers, pageToken=token))
