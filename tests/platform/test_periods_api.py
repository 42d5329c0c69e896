"""Finalising billing periods: POST .../periods/{YYYY-MM}/finalize and GET .../periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from focusbase.tenancy.periods import finalized_periods


@pytest.fixture
def provider_id(client: TestClient, admin_headers: dict) -> str:
    response = client.post(
        "/api/v1/providers", json={"name": "P", "defaultCurrency": "USD"}, headers=admin_headers
    )
    pid: str = response.json()["id"]
    return pid


def test_finalize_and_list(client: TestClient, admin_headers: dict, provider_id: str) -> None:
    first = client.post(f"/api/v1/providers/{provider_id}/periods/2026-09/finalize", headers=admin_headers)
    assert first.status_code == 201
    assert first.json()["providerId"] == provider_id and first.json()["period"] == "2026-09"
    repeat = client.post(f"/api/v1/providers/{provider_id}/periods/2026-09/finalize", headers=admin_headers)
    assert repeat.status_code == 200 and repeat.json() == first.json()
    client.post(f"/api/v1/providers/{provider_id}/periods/2025-12/finalize", headers=admin_headers)

    listed = client.get(f"/api/v1/providers/{provider_id}/periods", headers=admin_headers).json()
    assert listed["periodCloseDays"] == 15
    assert [p["period"] for p in listed["finalizedPeriods"]] == ["2025-12", "2026-09"]
    catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
    assert finalized_periods(catalog, "ws_default", None) == {provider_id: {"2025-12", "2026-09"}}


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "202609", "2026-00", "latest"])
def test_invalid_period(client: TestClient, admin_headers: dict, provider_id: str, period: str) -> None:
    response = client.post(
        f"/api/v1/providers/{provider_id}/periods/{period}/finalize", headers=admin_headers
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request" and "YYYY-MM" in response.json()["message"]


def test_current_month_cannot_be_finalised(client: TestClient, admin_headers: dict, provider_id: str) -> None:
    now = datetime.now(UTC)
    for period in (f"{now.year}-{now.month:02d}", f"{now.year + 1}-01"):
        response = client.post(
            f"/api/v1/providers/{provider_id}/periods/{period}/finalize", headers=admin_headers
        )
        assert response.status_code == 409 and response.json()["code"] == "period_not_ended"


def test_unknown_provider(client: TestClient, admin_headers: dict) -> None:
    assert (
        client.post("/api/v1/providers/prv_x/periods/2026-01/finalize", headers=admin_headers).status_code
        == 404
    )
    assert client.get("/api/v1/providers/prv_x/periods", headers=admin_headers).status_code == 404
