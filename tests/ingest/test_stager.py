"""The stager: accepted parts are written in the background, in order, and a commit includes every one."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.ingest import stager
from focusbase.storage import cost_rows
from tests.ingest.conftest import Provider, envelope, row
from tests.ingest.test_multipart import open_batch, send_part


@pytest.mark.embedded_only("on the scale-out profile a part is answered only once it is staged")
def test_answered_parts_are_committed_even_while_the_stager_is_behind(
    client: TestClient, provider: Provider, query: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real_insert = cost_rows.insert

    def slow_insert(*args: Any, **kwargs: Any) -> None:
        assert release.wait(timeout=30)
        real_insert(*args, **kwargs)

    monkeypatch.setattr(cost_rows, "insert", slow_insert)
    batch_id = open_batch(client, provider)
    # The first part is answered although the stager has not written it yet.
    first = send_part(client, provider, batch_id, [row("2026-06-01", "1.25")])
    assert first.status_code == 200, first.text
    assert query("SELECT count(*) FROM cost_rows") == [(0,)]

    def in_background(method: str, url: str, **kwargs: Any) -> tuple[threading.Thread, list[Any]]:
        answers: list[Any] = []
        thread = threading.Thread(
            target=lambda: answers.append(client.request(method, url, headers=provider.headers, **kwargs))
        )
        thread.start()
        return thread, answers

    # While one part waits for the stager, the next is checked but waits for room before it is answered.
    second, second_answer = in_background(
        "POST", f"/api/v1/batches/{batch_id}/parts", content=envelope([row("2026-06-02", "2.50")])
    )
    second.join(timeout=1.0)
    assert second.is_alive()
    release.set()
    second.join(timeout=30)
    assert second_answer[0].status_code == 200, second_answer[0].text

    # A commit sent while the stager is behind waits for it and includes every answered part.
    stager.wait_until_staged(batch_id)
    release.clear()
    third = send_part(client, provider, batch_id, [row("2026-06-03", "3")])
    assert third.status_code == 200, third.text
    committing, committed = in_background("POST", f"/api/v1/batches/{batch_id}/commit")
    committing.join(timeout=1.0)
    assert committing.is_alive()
    # A part sent once the commit has begun would miss it: it is refused, not answered and then lost.
    late = send_part(client, provider, batch_id, [row("2026-06-04", "100")])
    assert late.status_code == 409, late.text
    assert "being committed" in late.json()["message"]
    release.set()
    committing.join(timeout=30)
    assert committed[0].status_code == 200, committed[0].text
    assert committed[0].json()["lineItemsCreated"] == 3
    assert committed[0].json()["sums"]["USD"]["BilledCost"] == "6.75"
    assert query('SELECT sum("BilledCost") FROM live_cost_rows') == [(Decimal("6.75"),)]
    assert stager.parts_in_flight(batch_id) == 0


@pytest.mark.embedded_only("injects a DuckDB write failure")
def test_a_part_the_stager_cannot_write_fails_the_batch_with_the_reason(
    client: TestClient, provider: Provider, query: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_id = open_batch(client, provider)
    assert send_part(client, provider, batch_id, [row("2026-06-01", "1")]).status_code == 200
    stager.wait_until_staged(batch_id)

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
