"""A batch's staged rollup sums live as long as its staged rows: every way of dropping those drops them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.ingest.lifecycle import expire_open_batches, recover_interrupted
from focusbase.runtime import Runtime
from focusbase.storage import Warehouse, rollups
from tests.analytics.conftest import days, make_rows
from tests.analytics.test_explorer_property import assert_rollup_fresh, staged_sums
from tests.ingest.conftest import Provider
from tests.ingest.test_multipart import open_batch, send_part


def _staged(client: TestClient, warehouse: Warehouse, provider: Provider, seed: int) -> str:
    batch = open_batch(client, provider, mode="replace_days")
    for part in (seed, seed + 1):
        sent = send_part(client, provider, batch, make_rows(30, part, days(4, 1, 5)))
        assert sent.status_code in (200, 202), sent.text
    assert client.get(f"/api/v1/batches/{batch}", headers=provider.headers).status_code == 200
    assert staged_sums(warehouse, batch)[1] == 60
    return batch


def test_staged_sums_go_with_the_staged_rows(
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
    warehouse: Warehouse,
    admin_headers: dict[str, str],
    make_provider: Callable[..., Provider],
) -> None:
    monkeypatch.setattr(rollups, "STAGE_MAX_GROUPS_PER_ROW", 1.0)  # sum every part, however small
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    a, b = make_provider("Acme", "USD"), make_provider("Beta", "EUR")

    aborted = _staged(client, warehouse, a, 1)
    assert client.delete(f"/api/v1/batches/{aborted}", headers=a.headers).status_code == 200
    assert staged_sums(warehouse, aborted) == (0, 0)

    failed = _staged(client, warehouse, a, 3)
    bad = make_rows(5, 5, days(4, 1, 2))
    bad[0]["BilledCost"] = "not a number"
    assert send_part(client, a, failed, bad).status_code == 422
    assert staged_sums(warehouse, failed) == (0, 0)

    expired = _staged(client, warehouse, a, 6)
    with warehouse.transaction() as cur:
        cur.execute("UPDATE batches SET expires_at = expires_at - ?", [timedelta(days=30)])
    assert expire_open_batches(runtime) == [expired]
    assert staged_sums(warehouse, expired) == (0, 0)

    interrupted = _staged(client, warehouse, a, 8)
    assert recover_interrupted(runtime) == [interrupted]
    assert staged_sums(warehouse, interrupted) == (0, 0)

    orphaned = _staged(client, warehouse, b, 10)
    deleted = client.delete(f"/api/v1/providers/{b.id}", params={"confirm": "true"}, headers=admin_headers)
    assert deleted.status_code == 200, deleted.text
    assert staged_sums(warehouse, orphaned) == (0, 0)

    with warehouse.cursor() as cur:
        found = cur.execute("SELECT count(*) FROM staged_rollup_daily").fetchone()
    assert found == (0,)
    assert_rollup_fresh(warehouse)


def _one_combination(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with every rollup dimension of the first (only the day and the money differ)."""
    keep = {
        "ChargePeriodStart",
        "BilledCost",
        "EffectiveCost",
        "ListCost",
        "ContractedCost",
        "ChargeDescription",
    }
    first = {k: v for k, v in rows[0].items() if k not in keep}
    return [{**{k: v for k, v in row.items() if k in keep}, **first} for row in rows]


def test_parts_are_summed_only_while_summing_shrinks_them(
    client: TestClient, warehouse: Warehouse, make_provider: Callable[..., Provider]
) -> None:
    provider = make_provider("Acme", "USD")
    # 40 rows on 4 days with one combination of dimensions: 4 sums per part, kept.
    shrinking = open_batch(client, provider, mode="replace_days")
    for seed in (1, 2):
        rows = _one_combination(make_rows(40, seed, days(4, 1, 5)))
        assert send_part(client, provider, shrinking, rows).status_code in (200, 202)
    assert client.get(f"/api/v1/batches/{shrinking}", headers=provider.headers).status_code == 200
    groups, counted = staged_sums(warehouse, shrinking)
    assert 0 < groups <= 10 and counted == 80  # one sum per part and day
    assert client.post(f"/api/v1/batches/{shrinking}/commit", headers=provider.headers).status_code == 200
    assert_rollup_fresh(warehouse)

    # Rows nearly all of different combinations: the first part's sums are dropped and no later part is
    # summed; the commit sums the rows, and the rollup is as exact as from the sums.
    spread = open_batch(client, provider, mode="replace_days")
    for seed in (3, 4, 5):
        assert send_part(client, provider, spread, make_rows(40, seed, days(4, 6, 9))).status_code in (
            200,
            202,
        )
        assert client.get(f"/api/v1/batches/{spread}", headers=provider.headers).status_code == 200
        assert staged_sums(warehouse, spread) == (0, 0)
    committed = client.post(f"/api/v1/batches/{spread}/commit", headers=provider.headers)
    assert committed.status_code == 200 and committed.json()["lineItemsCreated"] == 120
    assert_rollup_fresh(warehouse)
