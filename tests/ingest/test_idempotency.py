"""Idempotency-Key: the same key and body replay the first response and create nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from focusbase.storage import Warehouse
from tests.ingest.conftest import Provider, row


def test_same_key_same_body_replays(client: TestClient, provider: Provider, query: Any) -> None:
    rows = [row("2026-06-01", "10"), row("2026-06-02", "5")]
    headers = {**provider.headers, "Idempotency-Key": "daily-2026-06-02"}
    first = provider.push(rows, headers=headers)
    assert first.status_code == 200
    second = provider.push(rows, headers=headers)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert query("SELECT count(*) FROM batches") == [(1,)]
    assert query("SELECT count(*) FROM cost_rows") == [(2,)]
    history = client.get(f"/api/v1/batches/{first.json()['batchId']}", headers=provider.headers).json()
    assert history["idempotencyKey"] == "daily-2026-06-02"


def test_same_key_different_body_is_422(provider: Provider, query: Any) -> None:
    headers = {**provider.headers, "Idempotency-Key": "k1"}
    assert provider.push([row("2026-06-01", "10")], headers=headers).status_code == 200
    other = provider.push([row("2026-06-01", "11")], headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    other_mode = provider.push([row("2026-06-01", "10")], headers=headers, mode="append")
    assert other_mode.status_code == 422
    assert query('SELECT sum("BilledCost") FROM live_cost_rows') == [(10,)]


def test_rejections_are_replayed_too(provider: Provider, query: Any) -> None:
    headers = {**provider.headers, "Idempotency-Key": "bad-1"}
    first = provider.push([row("2026-06-01", "nope")], headers=headers)
    second = provider.push([row("2026-06-01", "nope")], headers=headers)
    assert first.status_code == second.status_code == 422
    assert second.json() == first.json()
    assert query("SELECT count(*) FROM batches") == [(1,)]


def test_keys_are_per_provider_and_expire(make_provider: Any, warehouse: Warehouse, query: Any) -> None:
    one, two = make_provider("One"), make_provider("Two")
    assert (
        one.push([row("2026-06-01", "1")], headers={**one.headers, "Idempotency-Key": "same"}).status_code
        == 200
    )
    assert (
        two.push([row("2026-06-01", "2")], headers={**two.headers, "Idempotency-Key": "same"}).status_code
        == 200
    )
    assert query("SELECT count(*) FROM batches") == [(2,)]
    # Remembered for 24 hours (Settings.idempotency_ttl_hours); after that the key is new again.
    with warehouse.transaction() as cur:
        cur.execute("UPDATE batches SET created_at = created_at - ?", [timedelta(hours=25)])
    again = one.push([row("2026-06-01", "3")], headers={**one.headers, "Idempotency-Key": "same"})
    assert again.status_code == 200
    assert query("SELECT count(*) FROM batches") == [(3,)]
