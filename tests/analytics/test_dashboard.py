"""GET /api/v1/dashboard: every figure equals the same sum over live_cost_rows, per currency."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.storage import Catalog, Warehouse
from tests.analytics.conftest import days, make_rows, push_ok, read_headers
from tests.ingest.conftest import Provider


def _sums(warehouse: Warehouse, where: str, group: str = "") -> dict[tuple[Any, ...], Decimal]:
    keys = '"BillingCurrency"' + (f", {group}" if group else "")
    with warehouse.cursor() as cur:
        rows = cur.execute(
            f'SELECT {keys}, sum("EffectiveCost") FROM live_cost_rows WHERE {where} GROUP BY ALL'
        ).fetchall()
    return {tuple(r[:-1]): r[-1] for r in rows}


def test_dashboard_figures_match_the_rows(
    client: TestClient, catalog: Catalog, warehouse: Warehouse, make_provider: Callable[..., Provider]
) -> None:
    a, b = make_provider("Acme", "USD"), make_provider("Beta", "EUR")
    push_ok(a, make_rows(250, 11, days(1, 1, 31) + days(2, 1, 10)))
    push_ok(b, make_rows(150, 12, days(1, 15, 31) + days(2, 1, 8)))
    headers = read_headers(catalog)
    response = client.get("/api/v1/dashboard", params={"asOf": "2025-02-10"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["windows"]["sameDaysLastMonth"] == ["2025-01-01", "2025-01-11"]

    mtd = _sums(warehouse, "charge_day >= DATE '2025-02-01' AND charge_day < DATE '2025-02-11'")
    prev = _sums(warehouse, "charge_day >= DATE '2025-01-01' AND charge_day < DATE '2025-01-11'")
    got = {m["currency"]: m for m in body["monthToDate"]}
    assert set(got) == {c for (c,) in mtd} | {c for (c,) in prev} and len(got) == 3
    for (currency,), value in mtd.items():
        assert Decimal(got[currency]["monthToDate"]) == value
        assert Decimal(got[currency]["sameDaysLastMonth"]) == prev.get((currency,), 0)
        assert Decimal(got[currency]["change"]) == value - prev.get((currency,), 0)

    daily = _sums(
        warehouse, "charge_day >= DATE '2025-01-12' AND charge_day < DATE '2025-02-11'", "charge_day"
    )
    assert {(d["currency"], d["day"]): Decimal(d["value"]) for d in body["last30Days"]} == {
        (c, day.isoformat()): v for (c, day), v in daily.items()
    }

    window = "charge_day >= DATE '2025-01-12' AND charge_day < DATE '2025-02-11'"
    services = _sums(warehouse, window, '"ServiceName"')
    shown = {
        (s["currency"], s["serviceName"]): Decimal(s["value"]) for s in body["topServices"] if not s["other"]
    }
    assert shown == services  # three services: all within the top 10
    providers = _sums(warehouse, window, "provider_id")
    assert {(p["currency"], p["providerId"]): Decimal(p["value"]) for p in body["topProviders"]} == providers
    assert {p["name"] for p in body["topProviders"]} == {"Acme", "Beta"}

    now_by = _sums(
        warehouse, "charge_day >= DATE '2025-02-01' AND charge_day < DATE '2025-02-11'", '"ServiceName"'
    )
    then_by = _sums(
        warehouse, "charge_day >= DATE '2025-01-01' AND charge_day < DATE '2025-01-11'", '"ServiceName"'
    )
    for mover in body["biggestMovers"]:
        key = (mover["currency"], mover["serviceName"])
        assert Decimal(mover["change"]) == now_by.get(key, 0) - then_by.get(key, 0) != 0

    fresh = {f["providerId"]: f for f in body["freshness"]}
    assert fresh[a.id]["lastDay"] == "2025-02-10" and fresh[a.id]["daysBehind"] == 0
    assert fresh[b.id]["lastDay"] == "2025-02-08" and fresh[b.id]["daysBehind"] == 2
    assert fresh[b.id]["lastUpdated"] is not None

    # A key limited to one provider sees only its figures.
    limited = client.get(
        "/api/v1/dashboard", params={"asOf": "2025-02-10"}, headers=read_headers(catalog, [b.id])
    )
    assert [f["providerId"] for f in limited.json()["freshness"]] == [b.id]
    assert {p["providerId"] for p in limited.json()["topProviders"]} == {b.id}


def test_dashboard_refuses_bad_parameters(client: TestClient, catalog: Catalog) -> None:
    headers = read_headers(catalog)
    bad_metric = client.get("/api/v1/dashboard", params={"metric": "ConsumedQuantity"}, headers=headers)
    assert bad_metric.status_code == 400
    # The schema lists the metrics, so the request validation names the parameter.
    assert bad_metric.json()["code"] == "invalid_request" and "query.metric" in bad_metric.json()["details"]
    bad_day = client.get("/api/v1/dashboard", params={"asOf": "2025-13-01"}, headers=headers)
    assert bad_day.status_code == 400 and bad_day.json()["code"] == "invalid_request"
    assert client.get("/api/v1/dashboard").status_code == 401


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_dashboard_days_at_the_edge_of_the_calendar_are_refused(
    client: TestClient, catalog: Catalog, day: str
) -> None:
    response = client.get("/api/v1/dashboard", params={"asOf": day}, headers=read_headers(catalog))
    assert response.status_code == 400
    body = response.json()
    # Year 1 is outside the documented pattern (1900-9999); 9999-12-31 matches it but has no 30 days after.
    assert (body["code"], "asOf" in body["details"]) in (("invalid_request", True), ("invalid_query", True))


@pytest.mark.embedded_only("charge days to 9999-12-31; ClickHouse's Date type ends in 2149")
def test_explorer_handles_rows_on_the_last_day_of_the_calendar(
    client: TestClient, catalog: Catalog, make_provider: Callable[..., Provider]
) -> None:
    provider = make_provider("Acme", "USD")
    rows = make_rows(5, 13, ["9999-12-31"])
    for row in rows:
        row["BillingPeriodStart"], row["BillingPeriodEnd"] = "9999-12-01T00:00:00Z", "9999-12-31T23:59:59Z"
    response = provider.push(rows)
    assert response.status_code == 200, response.text
    for grain in ("day", "week", "month"):
        body = client.post("/api/v1/explorer/query", json={"grain": grain}, headers=read_headers(catalog))
        assert body.status_code == 200, body.text
        assert body.json()["buckets"][-1]["end"] == "9999-12-31"  # the bucket ends with the calendar
        assert body.json()["billingPeriods"][0]["status"] == "open"
