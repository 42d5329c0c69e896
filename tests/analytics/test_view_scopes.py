"""Saved views as scopes: anomalies per view (each provider's part and the total), forecasts of a view with
the caller's scope, budgets on a view with the calibrated forecast, and what deleting a view does."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from focusbase.analytics.anomaly_service import wait_for_detection
from focusbase.analytics.detect.forecast import MODELS
from focusbase.budgets.evaluation import evaluate_budget
from focusbase.budgets.service import get_budget, measure
from focusbase.runtime import Runtime
from focusbase.storage import Catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.ingest.conftest import Provider

START = date(2026, 6, 1)
DAYS = 110  # through 2026-09-18
SHIFT = 90  # from 2026-08-30


def _row(day: date, service: str, account: str, cost: float | str, category: str = "Usage") -> dict[str, Any]:
    text = cost if isinstance(cost, str) else f"{cost:.4f}"
    return {
        "ChargePeriodStart": day.isoformat(),
        "ChargePeriodEnd": (day + timedelta(days=1)).isoformat(),
        "BilledCost": text,
        "EffectiveCost": text,
        "BillingCurrency": "USD",
        "ChargeCategory": category,
        "ServiceName": service,
        "SubAccountId": account,
        "RegionId": "us-east-1",
    }


def _rows(seed: int, provider: str) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(DAYS):
        day = START + timedelta(days=i)
        compute = 500 * rng.lognormal(0, 0.04)
        database = 400 * rng.lognormal(0, 0.04)
        if i >= SHIFT:
            # Compute: A rises by 250 a day while B falls by 250, so the Compute view's total stays flat.
            compute += 250 if provider == "A" else -250
        if i >= SHIFT + 5:
            database += 300  # both providers: the Database view's total rises too
        rows.append(_row(day, "Compute", f"acct-{provider}", compute))
        rows.append(_row(day, "Database", f"acct-{provider}", database))
        if provider == "A":
            # Outside both views: a large shift that no view may show.
            rows.append(_row(day, "Storage", "acct-s", 300 + (2000 if i >= SHIFT else 0)))
            if day.day == 1:  # a month-start commitment purchase: expected, never an anomaly
                rows.append(_row(day, "Compute", "acct-A", "20000.00", "Purchase"))
    return rows


@dataclass
class Setup:
    a: Provider
    b: Provider
    rows: dict[str, list[dict[str, Any]]]
    compute: str  # view ids
    database: str


def _view(client: TestClient, headers: dict[str, str], name: str, service: str) -> str:
    query = {
        "metric": "EffectiveCost",
        "filters": [{"dimension": "ServiceName", "op": "equals", "values": [service]}],
    }
    response = client.post("/api/v1/views", json={"name": name, "query": query}, headers=headers)
    assert response.status_code == 201, response.text
    view_id: str = response.json()["id"]
    return view_id


@pytest.fixture
def setup(client: TestClient, admin_headers: dict[str, str]) -> Setup:
    a = Provider(client, admin_headers, "Cloud A", "USD")
    b = Provider(client, admin_headers, "Cloud B", "USD")
    # Views exist before the data: each commit checks the views that can include its provider.
    compute = _view(client, admin_headers, "Compute", "Compute")
    database = _view(client, admin_headers, "Database", "Database")
    rows = {"A": _rows(1, "A"), "B": _rows(2, "B")}
    for provider, name in ((a, "A"), (b, "B")):
        response = provider.push(rows[name])
        assert response.status_code == 200, response.text
    assert wait_for_detection(client.app.state.runtime)  # type: ignore[attr-defined]
    return Setup(a, b, rows, compute, database)


def _limited(catalog: Catalog, *provider_ids: str, scopes: list[str] | None = None) -> dict[str, str]:
    key = create_key(
        catalog,
        workspace_id=DEFAULT_WORKSPACE_ID,
        name="limited",
        scopes=scopes or ["read"],
        provider_ids=list(provider_ids),
    ).key
    return {"Authorization": f"Bearer {key}"}


def _view_anomalies(client: TestClient, headers: dict[str, str], view_id: str) -> list[dict[str, Any]]:
    response = client.get(
        "/api/v1/anomalies", params={"scope": "view", "scopeValue": view_id}, headers=headers
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


def test_view_anomalies_per_provider_part_and_total(
    client: TestClient, admin_headers: dict[str, str], catalog: Catalog, setup: Setup
) -> None:
    compute = _view_anomalies(client, admin_headers, setup.compute)
    parts = {(a["providerId"], a["direction"]) for a in compute}
    # Netting: the Compute total is flat, each provider's part of the view alerts on its own.
    assert (setup.a.id, "up") in parts and (setup.b.id, "down") in parts
    assert all(a["providerId"] is not None for a in compute)
    assert all(a["scope"] == "view" and a["scopeValue"] == setup.compute for a in compute)
    shift = (START + timedelta(days=SHIFT)).isoformat()
    up = next(a for a in compute if a["providerId"] == setup.a.id and a["direction"] == "up")
    assert shift <= up["startDate"] <= (START + timedelta(days=SHIFT + 3)).isoformat()
    # The view's filter holds: Storage's far larger shift on provider A is not in it, nor are purchases.
    days = (date.fromisoformat(up["endDate"]) - date.fromisoformat(up["startDate"])).days + 1
    assert 150 < float(up["impact"]) / days < 400
    assert all(c["value"] != "Storage" for a in compute for c in a["contributors"])
    assert not [a for a in compute if a["startDate"][8:] == "01"]

    database = _view_anomalies(client, admin_headers, setup.database)
    total = [a for a in database if a["providerId"] is None]
    assert total and total[0]["direction"] == "up"
    # The total's explanation names the providers in it.
    assert {c["dimension"] for c in total[0]["contributors"]} >= {"provider"}
    assert {a["providerId"] for a in database} == {None, setup.a.id, setup.b.id}

    # A key limited to provider A sees the views' parts in A only: never the total, never B's part.
    limited = _limited(catalog, setup.a.id)
    for view_id in (setup.compute, setup.database):
        seen = _view_anomalies(client, limited, view_id)
        assert seen and {a["providerId"] for a in seen} == {setup.a.id}
    hidden = [total[0], next(a for a in compute if a["providerId"] == setup.b.id)]
    for anomaly in hidden:
        response = client.get(f"/api/v1/anomalies/{anomaly['id']}", headers=limited)
        assert response.status_code == 404 and response.json()["code"] == "anomaly_not_found"
    # A key limited to both providers sees the total, which holds nothing else (as the explorer shows it).
    assert sorted(total[0]["providerIds"]) == sorted([setup.a.id, setup.b.id])
    both = _limited(catalog, setup.a.id, setup.b.id)
    assert _view_anomalies(client, both, setup.database) == database
    assert client.get(f"/api/v1/anomalies/{total[0]['id']}", headers=both).json() == total[0]
    # A third provider with rows in the view: the total's next detection holds it, and `both` loses it.
    c = Provider(client, admin_headers, "Cloud C", "USD")
    assert c.push([_row(START + timedelta(days=DAYS - 1), "Database", "acct-C", 1)]).status_code == 200
    assert wait_for_detection(client.app.state.runtime)  # type: ignore[attr-defined]
    assert not [a for a in _view_anomalies(client, both, setup.database) if a["providerId"] is None]
    assert client.get(f"/api/v1/anomalies/{total[0]['id']}", headers=both).status_code == 404
    seen = client.get(f"/api/v1/anomalies/{total[0]['id']}", headers=admin_headers).json()
    assert sorted(seen["providerIds"]) == sorted([setup.a.id, setup.b.id, c.id])


def test_detect_a_view_on_demand(
    client: TestClient, admin_headers: dict[str, str], catalog: Catalog, setup: Setup
) -> None:
    # A view created after the data is checked on creation, and on demand (nothing new the second time).
    late = _view(client, admin_headers, "Compute again", "Compute")
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assert wait_for_detection(runtime)
    assert len(_view_anomalies(client, admin_headers, late)) == len(
        _view_anomalies(client, admin_headers, setup.compute)
    )
    again = client.post("/api/v1/anomalies/detect", json={"viewId": late}, headers=admin_headers)
    assert again.status_code == 200 and again.json() == {"viewId": late, "anomaliesCreated": 0}
    missing = client.post("/api/v1/anomalies/detect", json={"viewId": "view_nope"}, headers=admin_headers)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    limited = _limited(catalog, setup.a.id, scopes=["admin"])
    refused = client.post("/api/v1/anomalies/detect", json={"viewId": late}, headers=limited)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    both = client.post(
        "/api/v1/anomalies/detect", json={"viewId": late, "providerId": setup.a.id}, headers=admin_headers
    )
    assert both.status_code == 400 and set(both.json()) >= {"code", "message", "details"}


def _september(rows: list[dict[str, Any]], service: str) -> Decimal:
    return sum(
        (
            Decimal(r["EffectiveCost"])
            for r in rows
            if r["ServiceName"] == service and r["ChargePeriodStart"] >= "2026-09"
        ),
        start=Decimal(0),
    )


def test_view_forecast_with_the_callers_scope(
    client: TestClient, admin_headers: dict[str, str], catalog: Catalog, setup: Setup
) -> None:
    def forecast(headers: dict[str, str], **params: str) -> dict[str, Any]:
        response = client.get(
            "/api/v1/forecasts",
            params={"scope": "view", "scopeValue": setup.compute, **params},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["scope"] == "view" and body["scopeValue"] == setup.compute
        (usd,) = body["data"]
        return usd  # type: ignore[no-any-return]

    everything = forecast(admin_headers)
    a_part = _september(setup.rows["A"], "Compute")
    both = a_part + _september(setup.rows["B"], "Compute")
    cent = Decimal("0.01")
    assert Decimal(everything["monthEnd"]["actualToDate"]) == both.quantize(cent)
    assert everything["dataThrough"] == "2026-09-18" and everything["calibrated"] is True
    limited = _limited(catalog, setup.a.id)
    only_a = forecast(limited)
    assert Decimal(only_a["monthEnd"]["actualToDate"]) == a_part.quantize(cent)
    assert forecast(admin_headers, provider=setup.a.id)["monthEnd"] == only_a["monthEnd"]

    def refused(headers: dict[str, str], params: dict[str, str], status: int, code: str) -> None:
        response = client.get("/api/v1/forecasts", params=params, headers=headers)
        assert response.status_code == status, response.text
        assert response.json()["code"] == code

    refused(limited, {"scope": "view", "scopeValue": setup.compute, "provider": setup.b.id}, 403, "forbidden")
    refused(admin_headers, {"scope": "view", "scopeValue": "view_nope"}, 404, "not_found")
    refused(admin_headers, {"scope": "view"}, 400, "invalid_parameter")
    refused(admin_headers, {"scope": "ServiceName", "scopeValue": "Compute"}, 400, "invalid_parameter")


def test_view_budget_uses_the_calibrated_forecast(
    client: TestClient, admin_headers: dict[str, str], setup: Setup
) -> None:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    response = client.post(
        "/api/v1/budgets",
        json={
            "name": "Compute in September",
            "scope": {"kind": "view", "id": setup.compute},
            "currency": "USD",
            "costColumn": "EffectiveCost",
            "amounts": {"2026-09": "1000"},
            "thresholds": [{"kind": "forecast", "probability": "0.5"}],
        },
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["scope"] == {"kind": "view", "id": setup.compute}
    budget = get_budget(runtime, DEFAULT_WORKSPACE_ID, created["id"])
    assert budget is not None
    today = date(2026, 9, 19)  # data through the 18th
    projection = measure(runtime, budget, "2026-09", today)
    assert projection is not None
    assert projection.method == "forecast" and projection.model in (*MODELS, "combination")
    assert projection.actual == _september(setup.rows["A"] + setup.rows["B"], "Compute")
    assert projection.lower is not None and projection.upper is not None
    assert projection.lower <= projection.projected <= projection.upper
    # The same projection as the forecast API's month end for the view.
    month_end = client.get(
        "/api/v1/forecasts", params={"scope": "view", "scopeValue": setup.compute}, headers=admin_headers
    ).json()["data"][0]["monthEnd"]
    assert abs(projection.projected - Decimal(month_end["expected"])) <= Decimal("0.02")

    # P(above) comes from the backtest errors: 0.9 at the band's lower edge, 0.1 at its upper edge.
    def probability(amount: Decimal) -> float:
        found = measure(runtime, replace(budget, amounts={"2026-09": amount}), "2026-09", today)
        assert found is not None
        return found.probability_above

    assert abs(probability(projection.lower) - 0.9) < 0.02
    assert abs(probability(projection.upper) - 0.1) < 0.02
    amounts = [
        projection.lower - 500,
        projection.lower,
        projection.projected,
        projection.upper,
        projection.upper + 500,
    ]
    chances = [probability(a) for a in amounts]
    assert chances == sorted(chances, reverse=True) and chances[0] == 1.0 and chances[-1] == 0.0

    # Far below the projection: the forecast threshold fires once for the month.
    now = datetime(2026, 9, 19, 8, tzinfo=UTC)
    assert len(evaluate_budget(runtime, budget, now=now)) == 1
    assert evaluate_budget(runtime, budget, now=now) == []


def test_deleting_a_view(
    client: TestClient, admin_headers: dict[str, str], catalog: Catalog, setup: Setup
) -> None:
    before = _view_anomalies(client, admin_headers, setup.compute)
    assert before
    body = {
        "name": "On compute",
        "scope": {"kind": "view", "id": setup.compute},
        "currency": "USD",
        "amounts": {"2026-09": "100"},
    }
    budget = client.post("/api/v1/budgets", json=body, headers=admin_headers).json()
    refused = client.delete(f"/api/v1/views/{setup.compute}", headers=admin_headers)
    assert refused.status_code == 409 and refused.json()["code"] == "view_in_use"
    assert json.loads(refused.json()["details"]) == {"budgets": [{"id": budget["id"], "name": "On compute"}]}
    assert client.get(f"/api/v1/views/{setup.compute}", headers=admin_headers).status_code == 200
    # A provider-limited admin key may not read budgets: it learns how many, not which.
    limited = client.delete(
        f"/api/v1/views/{setup.compute}", headers=_limited(catalog, setup.a.id, scopes=["admin"])
    )
    assert limited.status_code == 409 and json.loads(limited.json()["details"]) == {"budgets": 1}
    # Moving the budget to another scope frees the view.
    moved = client.patch(
        f"/api/v1/budgets/{budget['id']}",
        json={"scope": {"kind": "provider", "id": setup.a.id}},
        headers=admin_headers,
    )
    assert moved.status_code == 200, moved.text
    assert client.delete(f"/api/v1/views/{setup.compute}", headers=admin_headers).status_code == 204
    # Its anomalies stay with their states; no budget can point at the deleted view.
    assert _view_anomalies(client, admin_headers, setup.compute) == before
    for method, url in (("post", "/api/v1/budgets"), ("patch", f"/api/v1/budgets/{budget['id']}")):
        response = client.request(method, url, json={**body, "name": "Again"}, headers=admin_headers)
        assert response.status_code == 400 and response.json()["code"] == "invalid_request"
        assert json.loads(response.json()["details"])["field"] == "scope.id"


def test_view_anomalies_queue_anomaly_created(
    client: TestClient, admin_headers: dict[str, str], settings: Any, setup: Setup
) -> None:
    settings.webhook_allow_private_destinations = True  # the endpoint below is on loopback
    endpoint = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["anomaly.created"]},
        headers=admin_headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    late = _view(client, admin_headers, "Database again", "Database")  # checked on creation
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assert wait_for_detection(runtime)
    found = _view_anomalies(client, admin_headers, late)
    with runtime.catalog.read() as conn:
        bodies = [
            json.loads(row["body"])["data"]
            for row in conn.execute("SELECT body FROM webhook_events WHERE type = 'anomaly.created'")
        ]
    assert sorted(b["id"] for b in bodies) == sorted(a["id"] for a in found)
    total = next(b for b in bodies if b["providerId"] is None)
    assert (total["dimension"], total["value"]) == ("view", late)
    assert sorted(total["providerIds"]) == sorted([setup.a.id, setup.b.id])
