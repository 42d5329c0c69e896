"""Integers beyond 64 bits inside JSON values are kept exactly, on the way in and on the way out."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.ingest.conftest import Provider, envelope, row

BIG = "123456789012345678901234567890"  # 97 bits


def _push(client: TestClient, provider: Provider, rows: list[dict[str, Any]]) -> Any:
    # The test's JSON writer stops at 64 bits too: write a marker, then put the literal digits in its place.
    body = envelope(rows).replace(b'"BIG"', BIG.encode())
    return client.post(
        f"/api/v1/public/ingest/focus/{provider.id}",
        content=body,
        headers={"Content-Type": "application/json", **provider.headers},
    )


def test_big_integer_in_a_tag_round_trips(client: TestClient, admin_headers: dict[str, str]) -> None:
    provider = Provider(client, admin_headers, "Acme Cloud", "USD")
    pushed = _push(client, provider, [row("2026-06-01", "1", Tags={"n": "BIG", "ok": True})])
    assert pushed.status_code == 200, pushed.text
    page = client.get("/focus/v1/cost-and-usage", headers=admin_headers)
    assert page.status_code == 200, page.text
    assert f'"n":{BIG}' in page.text.replace(" ", "")
    assert page.json()["data"][0]["Tags"]["ok"] is True


def test_big_integer_nested_in_a_custom_value_is_not_a_server_error(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    provider = Provider(client, admin_headers, "Acme Cloud", "USD")
    resp = _push(client, provider, [row("2026-06-01", "1", x_Blob={"n": ["BIG", {"m": "BIG"}]})])
    assert resp.status_code in (200, 422), resp.text
    assert resp.json().get("code") != "internal_error"
    assert len(resp.content) < 10_000
