"""Revert restores what a batch replaced; superseded versions are pruned beyond the configured number."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from tests.ingest.conftest import Provider, row


def total(query: Any) -> Decimal:
    value: Decimal = query('SELECT coalesce(sum("BilledCost"), 0) FROM live_cost_rows')[0][0]
    return value


def test_revert_restores_the_replaced_rows(
    client: TestClient, provider: Provider, admin_headers: dict[str, str], query: Any
) -> None:
    first = provider.push([row("2026-06-01", "10"), row("2026-06-02", "20")]).json()
    second = provider.push([row("2026-06-01", "11")]).json()
    assert total(query) == Decimal("31")
    # An ingest key cannot revert; an admin key can.
    assert (
        client.post(f"/api/v1/batches/{second['batchId']}/revert", headers=provider.headers).status_code
        == 403
    )
    reverted = client.post(f"/api/v1/batches/{second['batchId']}/revert", headers=admin_headers)
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["status"] == "reverted"
    assert reverted.json()["progress"]["rowsRestored"] == 1
    assert total(query) == Decimal("30")
    first_now = client.get(f"/api/v1/batches/{first['batchId']}", headers=admin_headers).json()
    assert first_now["status"] == "committed"
    again = client.post(f"/api/v1/batches/{second['batchId']}/revert", headers=admin_headers)
    assert again.status_code == 409


def test_revert_refuses_when_later_batches_touch_the_days(
    client: TestClient, provider: Provider, admin_headers: dict[str, str], query: Any
) -> None:
    provider.push([row("2026-06-01", "10")])
    second = provider.push([row("2026-06-01", "11")]).json()
    provider.push([row("2026-06-01", "12")])
    refused = client.post(f"/api/v1/batches/{second['batchId']}/revert", headers=admin_headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "revert_conflict"
    assert total(query) == Decimal("12")


def test_revert_an_append_batch_removes_its_rows(
    client: TestClient, provider: Provider, admin_headers: dict[str, str], query: Any
) -> None:
    provider.push([row("2026-06-01", "10")])
    extra = provider.push([row("2026-06-01", "0.5")], mode="append").json()
    assert total(query) == Decimal("10.5")
    assert client.post(f"/api/v1/batches/{extra['batchId']}/revert", headers=admin_headers).status_code == 200
    assert total(query) == Decimal("10")


def test_prune_keeps_the_configured_versions(
    client: TestClient, provider: Provider, admin_headers: dict[str, str], query: Any
) -> None:
    keep = client.app.state.runtime.settings.keep_superseded_versions  # type: ignore[attr-defined]
    batches = [provider.push([row("2026-06-01", str(n))]).json()["batchId"] for n in range(1, keep + 4)]
    # The live version plus `keep` superseded versions of the day remain.
    kept = query("SELECT count(DISTINCT batch_id) FROM cost_rows WHERE charge_day = DATE '2026-06-01'")[0][0]
    assert kept == keep + 1
    assert query("SELECT count(*) FROM live_cost_rows") == [(1,)]
    # The newest batch can be reverted (its replaced version is kept) ...
    newest = client.post(f"/api/v1/batches/{batches[-1]}/revert", headers=admin_headers)
    assert newest.status_code == 200
    assert total(query) == Decimal(keep + 2)
    # ... but a batch whose replaced rows were pruned cannot.
    oldest_kept = query(
        "SELECT batch_id FROM cost_rows WHERE superseded_by IS NOT NULL ORDER BY row_seq LIMIT 1"
    )[0][0]
    assert oldest_kept != batches[0]
    assert query("SELECT count(*) FROM cost_rows WHERE batch_id = ?", [batches[0]]) == [(0,)]
