"""SSRF: private, loopback, link-local, multicast and unspecified destinations are refused by default,
at creation and again at delivery time; redirects are never followed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.notify.destinations import DestinationRefused, resolve
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.notify.conftest import Receiver, cost_row, make_provider, push, wait_until

FORBIDDEN = [
    "http://127.0.0.1/hook",
    "http://localhost:8080/hook",
    "http://[::1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.9/hook",
    "http://192.168.1.20/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/hook",
    "http://224.0.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://100.64.0.1/hook",
]


@pytest.fixture
def strict_client(tmp_path: Path) -> Any:
    # Production defaults: private destinations refused.
    with TestClient(create_app(Settings(data_dir=tmp_path / "strict", secret_key="k"))) as client:
        yield client


def admin(client: TestClient) -> dict[str, str]:
    catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
    key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="a", scopes=["admin"]).key
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("url", FORBIDDEN)
def test_private_destinations_refused_at_creation(strict_client: TestClient, url: str) -> None:
    response = strict_client.post(
        "/api/v1/webhooks", json={"url": url, "events": ["batch.committed"]}, headers=admin(strict_client)
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "webhook_destination_forbidden"
    assert json.loads(response.json()["details"]) == {"field": "url"}
    assert "FOCUSBASE_WEBHOOK_ALLOW_PRIVATE_DESTINATIONS" in response.json()["message"]


def test_unresolvable_host_refused(strict_client: TestClient) -> None:
    response = strict_client.post(
        "/api/v1/webhooks",
        json={"url": "http://no-such-host.invalid/hook", "events": ["batch.committed"]},
        headers=admin(strict_client),
    )
    assert response.status_code == 400 and response.json()["code"] == "webhook_destination_unresolvable"


def test_public_address_accepted_by_the_check() -> None:
    destination = resolve("https://93.184.215.14:8443/a?b=1", allow_private=False)
    assert (destination.address, destination.port, destination.target) == ("93.184.215.14", 8443, "/a?b=1")
    with pytest.raises(DestinationRefused):
        resolve("http://127.0.0.1/", allow_private=False)
    assert resolve("http://127.0.0.1/", allow_private=True).address == "127.0.0.1"


def test_checked_again_at_delivery_time(tmp_path: Path, receiver: Receiver, settings: Settings) -> None:
    # Created while allowed; the operator then turns the setting off: the delivery is refused, never sent.
    with TestClient(create_app(settings)) as client:
        headers = admin(client)
        endpoint = client.post(
            "/api/v1/webhooks", json={"url": receiver.url, "events": ["batch.committed"]}, headers=headers
        ).json()
    strict = settings.model_copy(update={"webhook_allow_private_destinations": False})
    with TestClient(create_app(strict)) as client:
        provider = make_provider(client, headers)
        assert push(client, provider, [cost_row("2026-06-01", "1")]).status_code == 200

        def logged() -> list[dict[str, Any]]:
            body = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=headers).json()
            attempts: list[dict[str, Any]] = body["attempts"]
            return attempts

        wait_until(lambda: len(logged()) >= 2)
        assert all(a["statusCode"] is None and "loopback" in a["error"] for a in logged())
    assert receiver.arrivals == []


def test_redirects_not_followed(
    client: TestClient, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    receiver.plan = lambda _id, nth: "redirect" if nth == 1 else 200
    endpoint = client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "events": ["batch.committed"]}, headers=admin_headers
    ).json()
    provider = make_provider(client, admin_headers)
    assert push(client, provider, [cost_row("2026-06-01", "1")]).status_code == 200
    wait_until(lambda: 1 in receiver.acknowledged().values())
    assert [a.path for a in receiver.arrivals] == ["/hooks", "/hooks"]
    attempts = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=admin_headers).json()[
        "attempts"
    ]
    first = attempts[-1]
    assert first["statusCode"] == 302 and first["outcome"] == "retrying"
    assert first["error"] == "redirects are not followed"
