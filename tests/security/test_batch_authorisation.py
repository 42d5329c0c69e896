"""GET /api/v1/batches/{id} authorises before it waits for the stager: foreign ids are 404 at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

from focusbase.ingest import batches as batch_service
from focusbase.ingest import stager
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.workspaces import find_workspace
from tests.ingest.conftest import Provider
from tests.security.conftest import AdminOf

MAX_ERROR_BYTES = 2_000
# Not a timing assertion: how long to wait for an answer that, if the server waited for the held part,
# would never come (the part is released only after this), so the test fails instead of hanging.
DEADLOCK_GUARD_SECONDS = 30


def _open_batch(client: TestClient, provider: Provider) -> str:
    resp = client.post(f"/api/v1/providers/{provider.id}/batches", json={}, headers=provider.headers)
    assert resp.status_code == 201, resp.text
    batch_id: str = resp.json()["batchId"]
    return batch_id


def _get_while_a_part_is_held(
    client: TestClient, workspace_id: str, batch_id: str, callers: list[dict[str, str]]
) -> list[Any]:
    """GET the batch with each caller while one accepted part of it sits unwritten in the stager."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    batch = batch_service.get_batch(runtime, workspace_id, batch_id)
    assert batch is not None
    release = threading.Event()
    stager.reserve(batch_id, 1, lambda: batch)
    stager.hand_over(batch_id, release.wait)
    answers = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            for headers in callers:
                future = pool.submit(client.get, f"/api/v1/batches/{batch_id}", headers=headers)
                answers.append(future.result(timeout=DEADLOCK_GUARD_SECONDS))
        finally:
            release.set()
    return answers


def test_foreign_batch_is_404_without_waiting_for_its_parts(
    client: TestClient, admin_headers: dict[str, str], admin_of: AdminOf
) -> None:
    victim_admin = admin_of("victim")
    victim = Provider(client, victim_admin, "Victim Cloud", "USD")
    batch_id = _open_batch(client, victim)
    mine = Provider(client, admin_headers, "Acme Cloud", "USD")

    catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
    victim_workspace = find_workspace(catalog, "victim")
    assert victim_workspace is not None
    foreign_admin, foreign_ingest = _get_while_a_part_is_held(
        client, victim_workspace.id, batch_id, [admin_headers, mine.headers]
    )
    unknown = client.get("/api/v1/batches/bat_00000000000000000000", headers=admin_headers)
    for resp in (foreign_admin, foreign_ingest, unknown):
        assert resp.status_code == 404, resp.text
        assert len(resp.content) < MAX_ERROR_BYTES
        assert resp.json()["code"] == "not_found"
    # The same answer as for an id that does not exist: nothing tells a foreign batch apart.
    assert foreign_admin.json()["message"] == f"batch {batch_id} not found"
    assert client.get(f"/api/v1/batches/{batch_id}", headers=victim_admin).status_code == 200


def test_batch_of_another_provider_is_404_without_waiting(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    one = Provider(client, admin_headers, "One Cloud", "USD")
    two = Provider(client, admin_headers, "Two Cloud", "USD")
    batch_id = _open_batch(client, one)
    (answer,) = _get_while_a_part_is_held(client, DEFAULT_WORKSPACE_ID, batch_id, [two.headers])
    assert answer.status_code == 404, answer.text
    assert len(answer.content) < MAX_ERROR_BYTES
    assert answer.json()["code"] == "not_found"
