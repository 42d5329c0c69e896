"""The stager: accepted parts are written in the background, in order, and a commit includes every one."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.ingest import batches
from focusbase.storage import cost_rows
from tests.ingest.conftest import Provider, envelope, row
from tests.ingest.test_multipart import open_batch, send_part


def test_answered_parts_are_committed_even_while_the_stager_is_behind(
    client: TestClient, provider: Provider, query: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real_insert = cost_rows.insert
    started: list[int] = []

    def slow_insert(*args: Any, **kwargs: Any) -> None:
        started.append(1)
        assert release.wait(timeout=30)
        real_insert(*args, **kwargs)

    monkeypatch.setattr(cost_rows, "insert", slow_insert)
    batch_id = open_batch(client, provider)
    # Two parts are answered while the stager has written neither (up to two may wait for it).
    for day, cost in (("2026-06-01", "1.25"), ("2026-06-02", "2.50")):
        response = send_part(client, provider, batch_id, [row(day, cost)])
        assert response.status_code == 200, response.text
    assert query("SELECT count(*) FROM cost_rows") == [(0,)]
    assert batches.parts_in_flight(batch_id) == 2

    # The commit, sent now, waits for both parts and includes them.
    answers: list[Any] = []
    committing = threading.Thread(
        target=lambda: answers.append(
            client.post(f"/api/v1/batches/{batch_id}/commit", headers=provider.headers)
        )
    )
    committing.start()
    committing.join(timeout=0.5)
    assert committing.is_alive()  # still waiting for the stager
    release.set()
    committing.join(timeout=30)
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["lineItemsCreated"] == 2
    assert answers[0].json()["sums"]["USD"]["BilledCost"] == "3.75"
    assert query('SELECT sum("BilledCost") FROM live_cost_rows') == [(Decimal("3.75"),)]
    assert batches.parts_in_flight(batch_id) == 0


def test_a_part_the_stager_cannot_write_fails_the_batch_with_the_reason(
    client: TestClient, provider: Provider, query: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = open_batch(client, provider)
    assert send_part(client, provider, batch_id, [row("2026-06-01", "1")]).status_code == 200
    batches.wait_until_staged(batch_id)

    def broken_insert(*args: Any, **kwargs: Any) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(cost_rows, "insert", broken_insert)
    assert send_part(client, provider, batch_id, [row("2026-06-02", "2")]).status_code == 200
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=provider.headers).json()
    assert batch["status"] == "failed"
    assert batch["failureReason"] == "storing rows 2 to 2 failed: OSError: No space left on device"
    # Nothing of the batch is kept, and neither a later part nor the commit is accepted.
    assert query("SELECT count(*) FROM cost_rows") == [(0,)]
    late = send_part(client, provider, batch_id, [row("2026-06-03", "3")])
    assert late.status_code == 409
    assert "No space left on device" in late.json()["message"]
    commit = client.post(f"/api/v1/batches/{batch_id}/commit", headers=provider.headers)
    assert commit.status_code == 409
    assert commit.json()["code"] == "batch_not_open"
    assert "failed: storing rows 2 to 2 failed" in commit.json()["message"]


def test_a_rejected_part_fails_the_batch_after_the_parts_before_it_are_written(
    client: TestClient, provider: Provider, query: Any
) -> None:
    batch_id = open_batch(client, provider)
    for day in ("2026-06-01", "2026-06-02"):
        assert send_part(client, provider, batch_id, [row(day, "1")]).status_code == 200
    bad = client.post(
        f"/api/v1/batches/{batch_id}/parts",
        content=envelope([row("2026-06-03", "not a number")]),
        headers=provider.headers,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["row"] == 3
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=provider.headers).json()
    assert (batch["status"], batch["rowsReceived"], batch["rowsRejected"]) == ("failed", 3, 1)
    assert query("SELECT count(*) FROM cost_rows") == [(0,)]
