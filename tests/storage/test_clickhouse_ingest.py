"""Ingest on the scale-out profile (FOCUSBASE_WAREHOUSE_URL: batches in PostgreSQL, rows in ClickHouse on
chDB): the same API history gives the same answers as on the embedded warehouse, and every crash point of the
commit protocol is recovered without losing or duplicating a row."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.runtime import Runtime
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.storage.clickhouse_ingest import ClickHouseIngestStore
from focusbase.storage.clickhouse_types import BatchRef
from focusbase.storage.cost_rows import Replace
from focusbase.tenancy.keys import create_key
from tests.ingest.conftest import Provider, envelope, row

pytest.importorskip("chdb")


def _settings(data_dir: Path, **profile: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        secret_key="test-secret-key",
        rate_limit_ingest_per_minute=100_000,
        rate_limit_read_per_minute=100_000,
        **profile,  # type: ignore[arg-type]
    )


@pytest.fixture
def scale(tmp_path: Path, postgres_url: str, chdb_path: Path) -> Settings:
    database = f"t_{uuid.uuid4().hex[:12]}"
    return _settings(
        tmp_path / "scale", catalog_url=postgres_url, warehouse_url=f"chdb://{chdb_path}?database={database}"
    )


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("FOCUSBASE_CATALOG_URL", raising=False)
    monkeypatch.delenv("FOCUSBASE_WAREHOUSE_URL", raising=False)
    return _settings(tmp_path / "embedded")


def _client(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        key = create_key(runtime.catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="admin", scopes=["admin"])
        yield client, {"Authorization": f"Bearer {key.key}"}


def _commit_parts(
    client: TestClient, provider: Provider, parts: list[list[dict[str, Any]]], **body: Any
) -> Any:
    opened = client.post(f"/api/v1/providers/{provider.id}/batches", json=body, headers=provider.headers)
    assert opened.status_code == 201, opened.text
    batch_id = opened.json()["batchId"]
    for rows in parts:
        sent = client.post(
            f"/api/v1/batches/{batch_id}/parts", content=envelope(rows), headers=provider.headers
        )
        assert sent.status_code == 200, sent.text
    return client.post(f"/api/v1/batches/{batch_id}/commit", headers=provider.headers)


_VOLATILE = {"batchId", "details", "createdAt", "updatedAt", "committedAt", "expiresAt", "revertedAt", "id"}


def _stable(value: Any) -> Any:
    """A response without ids and times, which differ between two runs."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, str) and value[:4] in ("bat_", "prv_", "key_"):
        return value[:4] + "*"
    return value


def _history(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    """Everything the API says after the same requests: responses, History, records, totals."""
    acme = Provider(client, admin, "Acme", "USD")
    beta = Provider(client, admin, "Beta", "EUR")
    said: dict[str, Any] = {}
    key = {**acme.headers, "Idempotency-Key": "daily-1"}
    first = acme.push(
        [row("2026-06-01", "10.25"), row("2026-06-02", "5"), row("2026-06-03", "7.125")], headers=key
    )
    replay = acme.push(
        [row("2026-06-01", "10.25"), row("2026-06-02", "5"), row("2026-06-03", "7.125")], headers=key
    )
    said["push"], said["replay"] = first.json(), replay.json()
    said["replayed"] = replay.headers.get("Idempotent-Replayed")
    said["reused"] = acme.push([row("2026-06-01", "1")], headers=key).status_code
    said["restate"] = acme.push([row("2026-06-02", "6.5")]).json()
    said["range"] = acme.push(
        [row("2026-06-03", "1")],
        mode="replace_range",
        start="2026-06-03T00:00:00Z",
        end="2026-06-04T00:00:00Z",
    ).json()
    said["append"] = acme.push([row("2026-06-04", "2")], mode="append").json()
    said["multipart"] = _commit_parts(
        client,
        beta,
        [[row("2026-06-01", "100"), row("2026-06-02", "200")], [row("2026-06-02", "0.000000000001")]],
    ).json()
    said["rejected"] = beta.push([row("2026-06-05", "not money")]).json()
    said["partial"] = beta.push([row("2026-06-06", "3"), row("2026-06-06", "x")], allowPartial="true").json()
    revert_id = said["range"]["batchId"]
    said["revert"] = client.post(f"/api/v1/batches/{revert_id}/revert", headers=admin).json()
    said["revert_again"] = client.post(f"/api/v1/batches/{revert_id}/revert", headers=admin).status_code
    for provider in (acme, beta):
        listed = client.get(f"/api/v1/providers/{provider.id}/batches", headers=admin)
        said[f"history {provider.name}"] = listed.json()
    records = client.get("/focus/v1/cost-and-usage", params={"pageSize": 1000}, headers=admin).json()
    said["records"] = sorted(
        (r["ChargePeriodStart"], r["BilledCost"], r["BillingCurrency"]) for r in records["data"]
    )
    said["count"] = records["pagination"]["totalCount"] if "pagination" in records else len(records["data"])
    return _stable(said)


def test_the_same_requests_give_the_same_answers_on_both_warehouses(
    embedded: Settings, scale: Settings
) -> None:
    for client, admin in _client(embedded):
        expected = _history(client, admin)
    for client, admin in _client(scale):
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert isinstance(runtime.ingest, ClickHouseIngestStore)
        got = _history(client, admin)
    for name in expected:
        assert got[name] == expected[name], name
    assert got == expected
    assert expected["replayed"] == "true" and expected["reused"] == 422
    assert expected["revert"]["status"] == "reverted" and expected["revert_again"] == 409


@pytest.fixture
def scale_client(scale: Settings) -> Iterator[tuple[TestClient, dict[str, str], ClickHouseIngestStore]]:
    for client, admin in _client(scale):
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert isinstance(runtime.ingest, ClickHouseIngestStore)
        yield client, admin, runtime.ingest


def _live_total(client: TestClient, admin: dict[str, str]) -> list[tuple[str, str]]:
    records = client.get("/focus/v1/cost-and-usage", params={"pageSize": 1000}, headers=admin).json()["data"]
    return sorted((r["ChargePeriodStart"], str(r["BilledCost"])) for r in records)


def test_a_commit_cut_off_after_its_flip_is_recorded_committed_and_replayed(
    scale_client: tuple[TestClient, dict[str, str], ClickHouseIngestStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, admin, store = scale_client
    acme = Provider(client, admin, "Acme", "USD")
    original = ClickHouseIngestStore._record_commit
    calls = []

    def cut_off(self: ClickHouseIngestStore, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[0].batch_id)
        if len(calls) == 1:
            raise ConnectionError("the catalog went away after the flip")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ClickHouseIngestStore, "_record_commit", cut_off)
    key = {**acme.headers, "Idempotency-Key": "k"}
    raw = TestClient(client.app, raise_server_exceptions=False)  # not entered: the app keeps running
    failed = raw.post(
        f"/api/v1/public/ingest/focus/{acme.id}",
        content=envelope([row("2026-06-01", "10")]),
        headers={"Content-Type": "application/json", **key},
    )
    assert failed.status_code == 500
    # The failure path found the flip written: the batch is committed, with its answer for a retry.
    batch = store.get(calls[0])
    assert batch is not None and batch["status"] == "committed" and batch["line_items_created"] == 1
    retry = acme.push([row("2026-06-01", "10")], headers=key)
    assert retry.status_code == 200 and retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.json()["status"] == "committed"
    assert _live_total(client, admin) == [("2026-06-01T00:00:00Z", "10")]


def test_recovery_finishes_a_commit_whose_process_died_after_the_flip(
    scale_client: tuple[TestClient, dict[str, str], ClickHouseIngestStore],
) -> None:
    client, admin, store = scale_client
    acme = Provider(client, admin, "Acme", "USD")
    assert acme.push([row("2026-06-01", "4"), row("2026-06-02", "5")]).status_code == 200
    opened = client.post(f"/api/v1/providers/{acme.id}/batches", json={}, headers=acme.headers).json()[
        "batchId"
    ]
    part = client.post(
        f"/api/v1/batches/{opened}/parts", content=envelope([row("2026-06-02", "7")]), headers=acme.headers
    )
    assert part.status_code == 200
    # The process that committed died between the flip and the catalog: commit_started_at set, flip written.
    found = store._record(opened)
    assert found is not None
    with store.catalog.transaction() as tx:
        tx.execute(
            "UPDATE batches SET commit_started_at = ? WHERE id = ?",
            (datetime.now(UTC).replace(tzinfo=None), opened),
        )
    store.ch.commit(found[1], Replace("replace_days"))
    assert store.get(opened)["status"] == "received"  # type: ignore[index]
    assert store.recover() == []
    done = store.get(opened)
    assert done is not None and done["status"] == "committed" and done["line_items_created"] == 1
    assert done["replaced"]["rows"] == 1 and done["replaced"]["sums"]["USD"]["BilledCost"] == "5"
    assert done["response"]["body"]["status"] == "committed"
    assert _live_total(client, admin) == [("2026-06-01T00:00:00Z", "4"), ("2026-06-02T00:00:00Z", "7")]


def test_a_push_whose_process_died_is_failed_and_its_retry_runs(
    scale_client: tuple[TestClient, dict[str, str], ClickHouseIngestStore],
) -> None:
    client, admin, store = scale_client
    acme = Provider(client, admin, "Acme", "USD")
    key = {**acme.headers, "Idempotency-Key": "nightly"}
    # A push's batch whose process died mid-way: open, leased, its rows staged, its lease free.
    body = envelope([row("2026-06-01", "3")])
    digest_of = __import__("focusbase.ingest.push", fromlist=["request_hash"]).request_hash
    digest = digest_of(
        body, {"mode": None, "start": None, "end": None, "allowPartial": False, "dataset": "CostAndUsage"}
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    record = {
        "id": "bat_deadbeefdeadbeef0000",
        "workspace_id": DEFAULT_WORKSPACE_ID,
        "provider_id": acme.id,
        "dataset": "CostAndUsage",
        "source": "push",
        "mode": "replace_days",
        "status": "validating",
        "errors": [],
        "defaults_applied": {},
        "idempotency_key": "nightly",
        "request_hash": digest,
        "created_at": now,
        "updated_at": now,
    }
    store.create(record)

    def carried_by(batch_id: str, owner: str) -> None:
        with store.catalog.transaction() as tx:
            tx.execute("UPDATE batches SET leased_by = ? WHERE id = ?", (owner, batch_id))

    carried_by(record["id"], "process:gone")  # its process died: nobody holds that lease
    in_progress_elsewhere = acme.push([row("2026-06-01", "3")], headers=key)
    assert in_progress_elsewhere.status_code == 200, in_progress_elsewhere.text
    assert in_progress_elsewhere.headers.get("Idempotent-Replayed") is None
    dead = store.get(record["id"])
    assert dead is not None and dead["status"] == "failed" and "stopped" in dead["failure_reason"]
    assert _live_total(client, admin) == [("2026-06-01T00:00:00Z", "3")]
    # A push that is really running elsewhere (lease held) answers 409 in progress, as on one process.
    running = {**record, "id": "bat_feedfacefeedface0000", "idempotency_key": "other"}
    store.create(running)
    carried_by(running["id"], "process:alive")
    with store.catalog.writer_lock("process:alive"):  # another replica, alive, carrying it
        busy = acme.push([row("2026-06-01", "3")], headers={**acme.headers, "Idempotency-Key": "other"})
        assert busy.status_code == 409 and busy.json()["code"] == "idempotency_in_progress"
        assert store.recover() == []
    # That replica dies: the next sweep fails its batch.
    assert store.recover() == [running["id"]]


def test_new_batches_are_numbered_after_every_batch_the_warehouse_holds(scale: Settings) -> None:
    """A warehouse filled by `migrate-storage` holds batch numbers the catalog never gave out: the store
    starts numbering after them, so no new batch's rows share a key with a copied batch's."""
    import pyarrow as pa

    for client, admin in _client(scale):
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        store = runtime.ingest
        assert isinstance(store, ClickHouseIngestStore)
        acme = Provider(client, admin, "Acme", "USD")
        copied = BatchRef(DEFAULT_WORKSPACE_ID, acme.id, "bat_copied", 41)
        rows = pa.table(
            {
                "ChargePeriodStart": pa.array([datetime(2026, 6, 1, tzinfo=UTC)]),
                "BilledCost": pa.array([Decimal("2")], pa.decimal128(38, 12)),
            }
        )
        store.ch.stage(copied, 0, 0, rows)
        store.ch.commit(copied, Replace("append"))
        store.migrate()  # as a replica starting after the copy does
        pushed = acme.push([row("2026-06-02", "3")], mode="append")
        assert pushed.status_code == 200
        found = store._record(pushed.json()["batchId"])
        assert found is not None and found[1].batch_seq == 42
        assert sorted(_live_total(client, admin)) == [
            ("2026-06-01T00:00:00Z", "2"),
            ("2026-06-02T00:00:00Z", "3"),
        ]


def test_charge_days_clickhouse_cannot_store_are_row_errors(
    scale_client: tuple[TestClient, dict[str, str], ClickHouseIngestStore],
) -> None:
    client, admin, _store = scale_client
    acme = Provider(client, admin, "Acme", "USD")
    rows = [row("2026-06-01", "1"), row("2150-01-01", "2"), row("1969-12-31T23:00:00Z", "3")]
    refused = acme.push(rows)
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [
        (2, "ChargePeriodStart", "beyond_warehouse_range"),
        (3, "ChargePeriodStart", "beyond_warehouse_range"),
    ]
    assert "1970-01-01 to 2149-06-06" in errors[0]["message"]
    assert _live_total(client, admin) == []
    partial = acme.push(rows, allowPartial="true")
    assert partial.status_code == 200 and partial.json()["rowsRejected"] == 2
    assert _live_total(client, admin) == [("2026-06-01T00:00:00Z", "1")]
