"""Multi-part batches: open, parts with continuing row numbers, atomic commit, abort, expiry, recovery."""

from __future__ import annotations

import gzip
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.ingest.lifecycle import expire_open_batches, recover_interrupted
from focusbase.ingest.stager import wait_until_all_staged
from focusbase.runtime import Runtime
from focusbase.storage import Warehouse
from tests.ingest.conftest import Provider, envelope, row


def open_batch(client: TestClient, provider: Provider, **body: Any) -> str:
    response = client.post(f"/api/v1/providers/{provider.id}/batches", json=body, headers=provider.headers)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "received"
    batch_id: str = response.json()["batchId"]
    return batch_id


def send_part(
    client: TestClient, provider: Provider, batch_id: str, rows: list[dict[str, Any]], **params: Any
) -> Any:
    return client.post(
        f"/api/v1/batches/{batch_id}/parts", content=envelope(rows), headers=provider.headers, params=params
    )


def test_parts_then_atomic_commit(client: TestClient, provider: Provider, query: Any) -> None:
    provider.push([row("2026-06-01", "100"), row("2026-06-03", "300")])
    batch_id = open_batch(client, provider)
    first = send_part(client, provider, batch_id, [row("2026-06-01", "1"), row("2026-06-01", "2")])
    assert first.status_code == 200, first.text
    assert (first.json()["firstRow"], first.json()["rowsAccepted"]) == (1, 2)
    second = client.post(
        f"/api/v1/batches/{batch_id}/parts",
        content=gzip.compress(envelope([row("2026-06-02", "3")])),
        headers={**provider.headers, "Content-Encoding": "gzip"},
    )
    assert second.json()["firstRow"] == 3
    # Answered parts are written by the stager in the background; reading the batch waits for it.
    assert client.get(f"/api/v1/batches/{batch_id}", headers=provider.headers).json()["rowsReceived"] == 3
    # Nothing of an open batch is visible; the old data is untouched.
    assert query('SELECT sum("BilledCost") FROM live_cost_rows') == [(Decimal("400"),)]
    assert query("SELECT count(*) FROM cost_rows WHERE starts_with(superseded_by, 'staged:')") == [(3,)]
    committed = client.post(f"/api/v1/batches/{batch_id}/commit", headers=provider.headers)
    assert committed.status_code == 200, committed.text
    body = committed.json()
    assert (body["status"], body["rowsReceived"], body["lineItemsCreated"]) == ("committed", 3, 3)
    assert body["replaced"]["rows"] == 1
    assert query('SELECT sum("BilledCost") FROM live_cost_rows') == [(Decimal("306"),)]
    assert query("SELECT count(*) FROM cost_rows WHERE starts_with(superseded_by, 'staged:')") == [(0,)]
    again = client.post(f"/api/v1/batches/{batch_id}/commit", headers=provider.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "batch_not_open"


def test_row_numbers_continue_across_parts(client: TestClient, provider: Provider, query: Any) -> None:
    batch_id = open_batch(client, provider)
    send_part(client, provider, batch_id, [row("2026-06-01", "1"), row("2026-06-01", "2")])
    bad = send_part(client, provider, batch_id, [row("2026-06-01", "3"), row("2026-06-01", "x")])
    assert bad.status_code == 422
    assert [e["row"] for e in bad.json()["errors"]] == [4]
    # Without allowPartial a bad part fails the whole batch and drops what was staged.
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=provider.headers).json()
    assert batch["status"] == "failed"
    assert query("SELECT count(*) FROM cost_rows WHERE starts_with(superseded_by, 'staged:')") == [(0,)]
    assert client.post(f"/api/v1/batches/{batch_id}/commit", headers=provider.headers).status_code == 409


def test_allow_partial_parts(client: TestClient, provider: Provider, query: Any) -> None:
    batch_id = open_batch(client, provider)
    part = send_part(
        client, provider, batch_id, [row("2026-06-01", "1"), row("2026-06-01", "x")], allowPartial="true"
    )
    assert part.status_code == 200
    assert (part.json()["rowsAccepted"], part.json()["rowsRejected"]) == (1, 1)
    body = client.post(f"/api/v1/batches/{batch_id}/commit", headers=provider.headers).json()
    assert (body["rowsReceived"], body["lineItemsCreated"], body["rowsRejected"]) == (2, 1, 1)
    assert body["errors"][0]["row"] == 2


def test_abort_drops_everything(client: TestClient, provider: Provider, query: Any) -> None:
    batch_id = open_batch(client, provider)
    send_part(client, provider, batch_id, [row("2026-06-01", "1")])
    aborted = client.delete(f"/api/v1/batches/{batch_id}", headers=provider.headers)
    assert aborted.status_code == 200
    assert aborted.json()["status"] == "failed"
    assert aborted.json()["failureReason"] == "aborted by the client"
    assert query("SELECT count(*) FROM cost_rows WHERE starts_with(superseded_by, 'staged:')") == [(0,)]
    assert query("SELECT count(*) FROM cost_rows") == [(0,)]
    late = send_part(client, provider, batch_id, [row("2026-06-01", "1")])
    assert late.status_code == 409


def test_replace_range_window_on_open(client: TestClient, provider: Provider, query: Any) -> None:
    provider.push([row("2026-06-01", "1"), row("2026-06-02", "2"), row("2026-06-03", "3")])
    batch_id = open_batch(client, provider, mode="replace_range", start="2026-06-01", end="2026-06-03")
    send_part(client, provider, batch_id, [row("2026-06-01", "10")])
    client.post(f"/api/v1/batches/{batch_id}/commit", headers=provider.headers)
    days = query('SELECT CAST(charge_day AS VARCHAR), "BilledCost" FROM live_cost_rows ORDER BY 1')
    assert days == [("2026-06-01", Decimal("10")), ("2026-06-03", Decimal("3"))]
    bad = client.post(
        f"/api/v1/providers/{provider.id}/batches", json={"mode": "replace_range"}, headers=provider.headers
    )
    assert bad.status_code == 400


def test_open_batches_expire(
    client: TestClient, provider: Provider, warehouse: Warehouse, query: Any
) -> None:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    batch_id = open_batch(client, provider)
    send_part(client, provider, batch_id, [row("2026-06-01", "1")])
    assert expire_open_batches(runtime) == []
    with warehouse.transaction() as cur:
        cur.execute("UPDATE batches SET expires_at = expires_at - ?", [timedelta(hours=25)])
    # A batch whose accepted part the stager is still writing is busy, not idle: expiry waits for it.
    wait_until_all_staged()
    assert expire_open_batches(runtime) == [batch_id]
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=provider.headers).json()
    assert batch["status"] == "failed"
    assert batch["failureReason"].startswith("expired")
    assert query("SELECT count(*) FROM cost_rows WHERE starts_with(superseded_by, 'staged:')") == [(0,)]


@pytest.mark.embedded_only("a scale-out restart leaves open multi-part batches to other replicas")
def test_recovery_fails_interrupted_batches(client: TestClient, provider: Provider, query: Any) -> None:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    provider.push([row("2026-06-01", "5")])
    batch_id = open_batch(client, provider)
    send_part(client, provider, batch_id, [row("2026-06-01", "1")])
    assert recover_interrupted(runtime) == [batch_id]
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=provider.headers).json()
    assert (batch["status"], batch["failureReason"]) == ("failed", "interrupted by a server restart")
    assert query('SELECT sum("BilledCost") FROM live_cost_rows') == [(Decimal("5"),)]


def test_other_providers_batches_are_invisible(client: TestClient, make_provider: Any) -> None:
    one, two = make_provider("One"), make_provider("Two")
    batch_id = open_batch(client, one)
    assert (
        client.post(
            f"/api/v1/batches/{batch_id}/parts", content=envelope([]), headers=two.headers
        ).status_code
        == 404
    )
    assert client.post(f"/api/v1/batches/{batch_id}/commit", headers=two.headers).status_code == 404
    assert client.get(f"/api/v1/batches/{batch_id}", headers=two.headers).status_code == 404
    assert client.post(f"/api/v1/providers/{one.id}/batches", json={}, headers=two.headers).status_code == 403


def test_parts_sent_concurrently_keep_their_row_numbers(
    client: TestClient, provider: Provider, query: Any
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    batch_id = open_batch(client, provider)
    parts = [[row(f"2026-06-{p + 1:02d}", str(p * 10 + i)) for i in range(10)] for p in range(6)]
    parts[4][3] = row("2026-06-05", "broken")

    def send(index: int) -> Any:
        return client.post(
            f"/api/v1/batches/{batch_id}/parts",
            content=envelope(parts[index]),
            headers=provider.headers,
            params={"firstRow": index * 10 + 1, "allowPartial": "true"},
        )

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(send, range(6)))
    assert all(r.status_code == 200 for r in results)
    assert results[4].json()["errors"][0]["row"] == 44
    body = client.post(f"/api/v1/batches/{batch_id}/commit", headers=provider.headers).json()
    assert (body["rowsReceived"], body["lineItemsCreated"], body["rowsRejected"]) == (60, 59, 1)
    assert query("SELECT count(DISTINCT row_seq), min(row_seq) > 0 FROM live_cost_rows") == [(59, True)]
