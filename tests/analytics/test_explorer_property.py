"""Explorer totals equal a direct DuckDB aggregate over live_cost_rows, to the last digit, for random queries.

The data is pushed through the real ingest API by three providers in three currencies, then replaced,
reverted and a provider deleted: after each step random queries (rollup-backed and row-backed) must match,
so the rollup is never stale and no figure ever adds two currencies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from focusbase.storage import Catalog, Warehouse, rollups
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from tests.analytics.conftest import days, make_rows, push_ok, read_headers
from tests.analytics.oracle import cells_of, expected
from tests.ingest.conftest import Provider

VALUES: dict[str, list[str]] = {
    "ServiceName": ["Compute Engine", "Cloud Storage", "BigQuery", "Nope"],
    "ServiceCategory": ["Compute", "Storage", "Databases"],
    "RegionId": ["us-east1", "europe-west1"],
    "SubAccountId": ["sub-a", "Sub-A", "sub-b"],
    "ChargeCategory": ["Usage", "Tax", "Credit"],
    "BillingCurrency": ["USD", "EUR", "JPY"],
    "ResourceId": ["res-1", "res-2", "res-9"],
    "tag:env": ["prod", "dev"],
    "tag:team": ["t1"],
    "x_Owner": ["owner-0", "owner-1", "owner-2"],
    "ConsumedUnit": ["Hours", "GB"],
}
DIMENSIONS = [*VALUES, "provider"]


@st.composite
def a_filter(draw: st.DrawFn) -> dict[str, Any]:
    dimension = draw(st.sampled_from([d for d in DIMENSIONS if d != "provider"]))
    op = draw(st.sampled_from(["equals", "in", "not_in", "contains", "present", "absent"]))
    pool = VALUES[dimension]
    if op in ("present", "absent"):
        return {"dimension": dimension, "op": op}
    if op == "equals":
        return {"dimension": dimension, "op": op, "values": [draw(st.sampled_from(pool))]}
    if op == "contains":
        word = draw(st.sampled_from(pool))
        start = draw(st.integers(0, max(0, len(word) - 2)))
        part = word[start : start + draw(st.integers(1, 3))]
        return {"dimension": dimension, "op": op, "values": [draw(st.sampled_from([part, part.upper()]))]}
    return {
        "dimension": dimension,
        "op": op,
        "values": draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)),
    }


@st.composite
def a_query(draw: st.DrawFn) -> dict[str, Any]:
    query: dict[str, Any] = {
        "metric": draw(
            st.sampled_from(
                [
                    "BilledCost",
                    "EffectiveCost",
                    "ListCost",
                    "ContractedCost",
                    "ConsumedQuantity",
                    "PricingQuantity",
                ]
            )
        ),
        "grain": draw(st.sampled_from(["day", "week", "month", "none"])),
        "groupBy": draw(st.lists(st.sampled_from(DIMENSIONS), max_size=3, unique=True)),
        "filters": draw(st.lists(a_filter(), max_size=3)),
        "sort": draw(st.sampled_from(["value_desc", "value_asc", "group"])),
    }
    if draw(st.booleans()):
        query["top"] = draw(st.integers(1, 4))
    if draw(st.booleans()):
        first = draw(st.integers(1, 40))
        query["start"] = f"2025-{1 + first // 31:02d}-{1 + first % 31 if first < 31 else first - 30:02d}"
        query["end"] = "2025-02-10"
        if query["start"] >= query["end"]:
            del query["end"]
    return query


def check(
    client: TestClient,
    warehouse: Warehouse,
    headers: dict[str, str],
    query: dict[str, Any],
    providers: list[str] | None = None,
) -> dict[str, Any]:
    response = client.post("/api/v1/explorer/query", json=query, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    want_cells, want_totals = expected(warehouse, query, DEFAULT_WORKSPACE_ID, providers)
    assert Counter(cells_of(body)) == Counter(want_cells), (query, body["source"])
    # Totals: one per currency (and unit), each the exact sum of that currency's rows only.
    got_totals = {(t["currency"], t["unit"]): (t["value"], t["rowCount"]) for t in body["totals"]}
    assert got_totals == {key: (_plain(value), count) for key, (value, count) in want_totals.items()}
    return body


def _plain(value: Any) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def assert_rollup_fresh(warehouse: Warehouse) -> None:
    """The rollup holds exactly what a rebuild from the live rows would."""
    with warehouse.cursor() as cur:
        cur.execute("BEGIN TRANSACTION")
        try:
            kept = sorted(cur.execute("SELECT * FROM cost_rollup_daily").fetchall(), key=repr)
            rollups.rebuild(cur)
            rebuilt = sorted(cur.execute("SELECT * FROM cost_rollup_daily").fetchall(), key=repr)
        finally:
            cur.execute("ROLLBACK")
    assert kept == rebuilt


@pytest.fixture(params=["parts summed when staged", "batch summed at commit"])
def staging(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a commit maintains the rollup: from its parts' pre-aggregates, or from its rows."""
    limit = 1.0 if request.param == "parts summed when staged" else 0.0
    monkeypatch.setattr(rollups, "STAGE_MAX_GROUPS_PER_ROW", limit)
    return str(request.param)


def test_explorer_matches_duckdb_through_replace_revert_and_delete(
    staging: str,
    client: TestClient,
    catalog: Catalog,
    warehouse: Warehouse,
    admin_headers: dict[str, str],
    make_provider: Callable[..., Provider],
) -> None:
    a, b, c = make_provider("Acme", "USD"), make_provider("Beta", "EUR"), make_provider("Gamma", "JPY")
    push_ok(a, make_rows(300, 1, days(1, 1, 28) + days(2, 1, 20)))
    push_ok(b, make_rows(200, 2, days(1, 10, 31)))
    push_ok(c, make_rows(150, 3, days(2, 1, 28)))
    headers = read_headers(catalog)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(query=a_query())
    def property_holds(query: dict[str, Any]) -> None:
        check(client, warehouse, headers, query)

    def stage() -> None:
        assert_rollup_fresh(warehouse)
        property_holds()
        # Three currencies at once, each with its own total.
        body = check(client, warehouse, headers, {"metric": "BilledCost", "grain": "none"})
        currencies = [t["currency"] for t in body["totals"]]
        assert len(currencies) == len(set(currencies)) == 3

    stage()
    # Append (old rows stay) and replace_range (rows in a window are replaced) keep the rollup exact too.
    push_ok(b, make_rows(60, 7, days(1, 20, 25)), mode="append")
    ranged = push_ok(
        c,
        make_rows(40, 8, days(2, 12, 13)),
        mode="replace_range",
        start="2025-02-12T00:00:00Z",
        end="2025-02-14T00:00:00Z",
    )
    assert ranged["replaced"]["rows"] > 0
    stage()
    # Multi-part batches, committed from the sums taken when each part was staged: replace_days with the same
    # day in several parts (and a part sent with an explicit first row, out of order), then append onto days
    # that already have rows (old rollup rows plus the batch's sums).
    parts = [
        make_rows(50, 11, days(1, 3, 6)),
        make_rows(40, 12, days(1, 6, 8)),
        make_rows(30, 13, days(1, 6, 6)),
    ]
    multi = commit_parts(client, warehouse, a, parts, mode="replace_days", first_rows=[91, 1, 51])
    assert multi["replaced"]["rows"] > 0
    stage()
    # The second part's row numbers overlap the first's (a sender's firstRow), so its range is ambiguous.
    appended = [make_rows(45, 14, days(1, 12, 22)), make_rows(35, 15, days(1, 22, 31))]
    commit_parts(client, warehouse, b, appended, mode="append", first_rows=[1, 20])
    stage()
    # Replace: new rows for some days of provider A supersede the old ones there.
    replacement = push_ok(a, make_rows(80, 4, days(1, 5, 9)), mode="replace_days")
    assert replacement["replaced"]["rows"] > 0
    stage()
    # Revert: the replaced rows come back.
    reverted = client.post(f"/api/v1/batches/{replacement['batchId']}/revert", headers=admin_headers)
    assert reverted.status_code == 200, reverted.text
    stage()
    # Provider delete: its rows and rollup rows go.
    deleted = client.delete(f"/api/v1/providers/{c.id}", params={"confirm": "true"}, headers=admin_headers)
    assert deleted.status_code == 200, deleted.text
    stage()


def staged_sums(warehouse: Warehouse, batch_id: str) -> tuple[int, int]:
    """(pre-aggregate rows, rows they count) of a batch in the staged rollup table."""
    with warehouse.cursor() as cur:
        found = cur.execute(
            "SELECT count(*), coalesce(sum(row_count), 0) FROM staged_rollup_daily WHERE batch_id = ?",
            [batch_id],
        ).fetchone()
    assert found is not None
    return int(found[0]), int(found[1])


def commit_parts(
    client: TestClient,
    warehouse: Warehouse,
    provider: Provider,
    parts: list[list[dict[str, Any]]],
    *,
    mode: str,
    first_rows: list[int] | None = None,
) -> dict[str, Any]:
    """Send parts to a new batch, check their sums were staged with them, commit; returns the commit body."""
    from tests.ingest.test_multipart import open_batch, send_part

    batch = open_batch(client, provider, mode=mode)
    for i, rows in enumerate(parts):
        params = {"firstRow": first_rows[i]} if first_rows else {}
        sent = send_part(client, provider, batch, rows, **params)
        assert sent.status_code in (200, 202), sent.text
    waited = client.get(f"/api/v1/batches/{batch}", headers=provider.headers)  # a History read waits
    assert waited.status_code == 200
    groups, counted = staged_sums(warehouse, batch)
    if rollups.STAGE_MAX_GROUPS_PER_ROW >= 1:  # every part is summed, however little it shrinks
        assert groups > 0 and counted == sum(len(rows) for rows in parts)
    elif rollups.STAGE_MAX_GROUPS_PER_ROW == 0:  # no part is: the commit sums the batch's rows itself
        assert (groups, counted) == (0, 0)
    committed = client.post(f"/api/v1/batches/{batch}/commit", headers=provider.headers)
    assert committed.status_code == 200, committed.text
    assert staged_sums(warehouse, batch) == (0, 0)  # dropped by the commit
    body: dict[str, Any] = committed.json()
    return body


def test_provider_limited_key_sees_only_its_providers(
    client: TestClient,
    catalog: Catalog,
    warehouse: Warehouse,
    make_provider: Callable[..., Provider],
) -> None:
    a, b = make_provider("Acme", "USD"), make_provider("Beta", "EUR")
    push_ok(a, make_rows(120, 5, days(1, 1, 20)))
    push_ok(b, make_rows(80, 6, days(1, 1, 20)))
    headers = read_headers(catalog, [a.id])
    for query in (
        {"metric": "BilledCost", "grain": "month", "groupBy": ["provider", "ServiceName"]},
        {"metric": "EffectiveCost", "grain": "none", "groupBy": ["ResourceId"], "top": 2},
    ):
        body = check(client, warehouse, headers, query, providers=[a.id])
        assert {p["providerId"] for p in body["providers"]} == {a.id}


def test_multi_part_batches_keep_the_rollup_exact(
    client: TestClient, catalog: Catalog, warehouse: Warehouse, make_provider: Callable[..., Provider]
) -> None:
    from tests.ingest.test_multipart import open_batch, send_part

    a = make_provider("Acme", "USD")
    push_ok(a, make_rows(200, 41, days(3, 1, 20)))
    # Staged parts become live at the commit, replacing days 5 to 12 (a part's rows stay hidden until then).
    batch = open_batch(client, a, mode="replace_days")
    for seed in (42, 43):
        assert send_part(client, a, batch, make_rows(70, seed, days(3, 5, 12))).status_code in (200, 202)
    headers = read_headers(catalog)
    before = check(
        client, warehouse, headers, {"metric": "BilledCost", "grain": "day", "groupBy": ["ServiceName"]}
    )
    committed = client.post(f"/api/v1/batches/{batch}/commit", headers=a.headers)
    assert committed.status_code == 200, committed.text
    assert_rollup_fresh(warehouse)
    after = check(
        client, warehouse, headers, {"metric": "BilledCost", "grain": "day", "groupBy": ["ServiceName"]}
    )
    assert before["totals"] != after["totals"]
