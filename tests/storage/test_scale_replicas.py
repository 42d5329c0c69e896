"""Two API replicas of one scale-out deployment: real `focusbase serve` processes sharing a PostgreSQL catalog
and a ClickHouse warehouse (chDB behind the test gateway, tests/chdb_http.py). Pushes through one are read
through the other, Idempotency-Key retries cross replicas, and a replica killed with SIGKILL mid-batch loses
and duplicates nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from focusbase.config import Settings
from focusbase.storage import open_catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.ingest.conftest import envelope, row
from tests.ingest.server import Server

pytest.importorskip("chdb")
pytest.importorskip("clickhouse_connect")


@pytest.fixture
def deployment(
    tmp_path: Path, postgres_url: str, chdb_gateway: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Server, Server, dict[str, str]]]:
    import uuid

    import clickhouse_connect

    database = f"r_{uuid.uuid4().hex[:12]}"
    host, port = chdb_gateway.removeprefix("http://").split(":")
    admin_client = clickhouse_connect.get_client(host=host, port=int(port))
    admin_client.command(f"CREATE DATABASE {database}")
    admin_client.close()
    monkeypatch.setenv("FOCUSBASE_CATALOG_URL", postgres_url)
    monkeypatch.setenv("FOCUSBASE_WAREHOUSE_URL", f"{chdb_gateway}/{database}")
    monkeypatch.setenv("FOCUSBASE_SECRET_KEY", "one-secret-for-every-replica")
    monkeypatch.setenv("FOCUSBASE_EXPORT_DIR", str(tmp_path / "exports"))
    catalog = open_catalog(Settings(data_dir=tmp_path / "bootstrap", catalog_url=postgres_url))
    try:
        key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="admin", scopes=["admin"]).key
    finally:
        catalog.close()
    first = Server(tmp_path / "a", tmp_path / "a.log")
    second = Server(tmp_path / "b", tmp_path / "b.log")
    first.start()
    second.start()
    try:
        yield first, second, {"Authorization": f"Bearer {key}"}
    finally:
        first.stop()
        second.stop()


def _records(server: Server, admin: dict[str, str]) -> list[tuple[str, Decimal]]:
    """Every live record, page by page."""
    found: list[tuple[str, Decimal]] = []
    token = None
    while True:
        params: dict[str, Any] = {"pageSize": 10000, **({"pageToken": token} if token else {})}
        response = httpx.get(
            server.url + "/focus/v1/cost-and-usage", params=params, headers=admin, timeout=60
        )
        assert response.status_code == 200, response.text
        body = response.json()
        found += [(r["ChargePeriodStart"], Decimal(str(r["BilledCost"]))) for r in body["data"]]
        token = body["nextPageToken"]
        if token is None:
            return sorted(found)


def _push(
    server: Server, provider: dict[str, Any], rows: list[dict[str, Any]], key: str | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {provider['ingestKey']}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return httpx.post(
        f"{server.url}/api/v1/public/ingest/focus/{provider['id']}",
        content=envelope(rows),
        params={"mode": "append"},  # append: a duplicated push would show as doubled rows
        headers=headers,
        timeout=120,
    )


def test_two_replicas_serve_one_deployment(deployment: tuple[Server, Server, dict[str, str]]) -> None:
    a, b, admin = deployment
    created = httpx.post(
        a.url + "/api/v1/providers",
        json={"name": "Acme", "defaultCurrency": "USD"},
        headers=admin,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    provider = created.json()
    auth = {"Authorization": f"Bearer {provider['ingestKey']}"}

    # A push through one replica is read through the other.
    first = _push(a, provider, [row("2026-06-01", "10.5"), row("2026-06-02", "0.000000000001")], key="k1")
    assert first.status_code == 200, first.text
    assert _records(b, admin) == [
        ("2026-06-01T00:00:00Z", Decimal("10.5")),
        ("2026-06-02T00:00:00Z", Decimal("0.000000000001")),
    ]
    # The client's retry lands on the other replica: the first answer is replayed, nothing is stored twice.
    retry = _push(b, provider, [row("2026-06-01", "10.5"), row("2026-06-02", "0.000000000001")], key="k1")
    assert retry.status_code == 200 and retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.json() == first.json()
    assert len(_records(a, admin)) == 2

    # One multi-part batch across both replicas: opened on one, parts on both, committed on the other.
    opened = httpx.post(
        f"{a.url}/api/v1/providers/{provider['id']}/batches", json={"mode": "append"}, headers=auth
    )
    batch_id = opened.json()["batchId"]
    for server, day in ((a, "2026-06-03"), (b, "2026-06-04"), (a, "2026-06-05")):
        part = httpx.post(
            f"{server.url}/api/v1/batches/{batch_id}/parts", content=envelope([row(day, "1")]), headers=auth
        )
        assert part.status_code == 200, part.text
    committed = httpx.post(f"{b.url}/api/v1/batches/{batch_id}/commit", headers=auth, timeout=60)
    assert committed.status_code == 200, committed.text
    assert committed.json()["lineItemsCreated"] == 3
    assert len(_records(a, admin)) == 5

    # Replica b is killed while its batch is open: every answered part survives, and a commits them.
    opened = httpx.post(
        f"{b.url}/api/v1/providers/{provider['id']}/batches", json={"mode": "append"}, headers=auth
    )
    open_id = opened.json()["batchId"]
    part = httpx.post(
        f"{b.url}/api/v1/batches/{open_id}/parts", content=envelope([row("2026-06-06", "2")]), headers=auth
    )
    assert part.status_code == 200
    b.kill()
    assert httpx.get(f"{a.url}/api/v1/batches/{open_id}", headers=auth).json()["status"] == "received"
    done = httpx.post(f"{a.url}/api/v1/batches/{open_id}/commit", headers=auth, timeout=60)
    assert done.status_code == 200 and done.json()["lineItemsCreated"] == 1

    # Replica b is killed under a large push; the client retries through a: exactly one copy is stored.
    b.start()
    before = _records(a, admin)
    big = [row(f"2026-07-{day:02d}", "1.25", ResourceId=f"r{n}") for day in range(1, 29) for n in range(700)]
    answer: list[Any] = []

    def send() -> None:
        try:
            answer.append(_push(b, provider, big, key="nightly"))
        except httpx.HTTPError as exc:
            answer.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    _wait_for_batch(a, provider, auth)
    b.kill()
    sender.join(60)
    retried = _push(a, provider, big, key="nightly")
    assert retried.status_code == 200, retried.text
    replayed = retried.headers.get("Idempotent-Replayed") == "true"
    print("the killed push", "had committed: replayed" if replayed else "had not committed: ran again on a")
    after = _records(a, admin)
    added = len(after) - len(before)
    assert added == len(big), f"{added} rows stored for one push of {len(big)}"
    assert sum(cost for _, cost in after) - sum(cost for _, cost in before) == Decimal("1.25") * len(big)

    # A replica restarting does not fail the other replica's open batch.
    opened = httpx.post(
        f"{a.url}/api/v1/providers/{provider['id']}/batches", json={"mode": "append"}, headers=auth
    )
    kept_id = opened.json()["batchId"]
    httpx.post(
        f"{a.url}/api/v1/batches/{kept_id}/parts", content=envelope([row("2026-06-07", "3")]), headers=auth
    )
    b.start()
    assert httpx.get(f"{b.url}/api/v1/batches/{kept_id}", headers=auth).json()["status"] == "received"
    assert httpx.post(f"{b.url}/api/v1/batches/{kept_id}/commit", headers=auth, timeout=60).status_code == 200


def _wait_for_batch(server: Server, provider: dict[str, Any], auth: dict[str, str]) -> None:
    """Until the push's batch exists (it is being checked or stored on the other replica)."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = httpx.get(
            f"{server.url}/api/v1/providers/{provider['id']}/batches", headers=auth, timeout=10
        ).json()
        if any(b.get("idempotencyKey") == "nightly" for b in listed.get("batches", [])):
            return
        time.sleep(0.05)
    raise AssertionError("the push never opened its batch")
