"""History: a provider's batches newest first with keyset pages, and every field of one batch."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.ingest.conftest import Provider, row

FIELDS = {
    "id",
    "providerId",
    "dataset",
    "source",
    "mode",
    "window",
    "status",
    "rowsReceived",
    "lineItemsCreated",
    "rowsRejected",
    "replaced",
    "sums",
    "defaultsApplied",
    "errors",
    "errorCount",
    "idempotencyKey",
    "keyId",
    "createdAt",
    "updatedAt",
    "committedAt",
    "failureReason",
}


def test_batch_has_every_history_field(
    client: TestClient, provider: Provider, admin_headers: dict[str, str]
) -> None:
    provider.push([row("2026-06-01", "2")])
    pushed = provider.push(
        [row("2026-06-01", "1.25"), row("2026-06-02", "bad")],
        allowPartial="true",
        headers={**provider.headers, "Idempotency-Key": "abc"},
    ).json()
    batch = client.get(f"/api/v1/batches/{pushed['batchId']}", headers=admin_headers).json()
    assert set(batch) >= FIELDS
    assert (
        batch["source"] == "push" and batch["mode"] == "replace_days" and batch["dataset"] == "CostAndUsage"
    )
    assert batch["status"] == "committed"
    assert (batch["rowsReceived"], batch["lineItemsCreated"], batch["rowsRejected"]) == (2, 1, 1)
    assert batch["replaced"]["rows"] == 1
    assert batch["replaced"]["sums"]["USD"]["BilledCost"] == "2"
    assert batch["sums"] == {"USD": {"rows": 1, "BilledCost": "1.25", "EffectiveCost": "1.25"}}
    assert batch["errorCount"] == 1 and batch["errors"][0]["row"] == 2
    assert batch["idempotencyKey"] == "abc"
    assert batch["keyId"].startswith("key_")
    assert batch["createdAt"].endswith("Z") and batch["committedAt"].endswith("Z")
    assert batch["window"] == {"start": None, "end": None}


def test_list_is_newest_first_and_paginated(
    client: TestClient, provider: Provider, admin_headers: dict[str, str]
) -> None:
    ids = [provider.push([row(f"2026-06-{d:02d}", "1")]).json()["batchId"] for d in range(1, 8)]
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"pageSize": 3}
        if token:
            params["pageToken"] = token
        page = client.get(
            f"/api/v1/providers/{provider.id}/batches", params=params, headers=admin_headers
        ).json()
        seen += [b["id"] for b in page["batches"]]
        token = page["nextPageToken"]
        if token is None:
            break
    assert seen == list(reversed(ids))
    bad = client.get(
        f"/api/v1/providers/{provider.id}/batches", params={"pageToken": "!!"}, headers=admin_headers
    )
    assert bad.status_code == 400


def test_history_is_scoped(client: TestClient, make_provider: Any, admin_headers: dict[str, str]) -> None:
    one, two = make_provider("One"), make_provider("Two")
    batch_id = one.push([row("2026-06-01", "1")]).json()["batchId"]
    assert client.get(f"/api/v1/providers/{one.id}/batches", headers=two.headers).status_code == 403
    assert client.get(f"/api/v1/batches/{batch_id}", headers=two.headers).status_code == 404
    assert client.get(f"/api/v1/batches/{batch_id}", headers=one.headers).status_code == 200
    assert client.get("/api/v1/batches/bat_missing", headers=admin_headers).status_code == 404
    read_key = client.post(
        "/api/v1/keys", json={"name": "r", "scopes": ["read"]}, headers=admin_headers
    ).json()["key"]
    listed = client.get(f"/api/v1/providers/{one.id}/batches", headers={"X-API-Key": read_key})
    assert listed.status_code == 200 and len(listed.json()["batches"]) == 1
