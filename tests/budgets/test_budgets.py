"""Budgets: thresholds on actual and forecast spend fire once per (budget, month, threshold)."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import standardwebhooks
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.budgets.evaluation import evaluate_budget
from focusbase.budgets.forecast import run_rate
from focusbase.budgets.service import get_budget
from focusbase.config import Settings
from focusbase.tenancy.keys import create_key
from tests.notify.conftest import Receiver, cost_row, make_provider, push, wait_until


def subscribe(client: TestClient, headers: dict[str, str], url: str) -> str:
    response = client.post(
        "/api/v1/webhooks", json={"url": url, "events": ["budget.threshold_crossed"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


def create_budget(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/budgets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def crossed_events(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    payloads = []
    for arrivals in receiver.by_id().values():
        payload = standardwebhooks.Webhook(secret).verify(arrivals[0].body, arrivals[0].headers)
        payloads.append(payload)
    return sorted(payloads, key=lambda p: str(p["data"]["threshold"].get("percent", "")))


def test_actual_thresholds_fire_once_across_commits_and_restarts(
    settings: Settings, receiver: Receiver
) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")
    day = f"{month}-01"
    with TestClient(create_app(settings)) as client:
        catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
        key = create_key(catalog, workspace_id="ws_default", name="a", scopes=["admin"]).key
        headers = {"Authorization": f"Bearer {key}"}
        secret = subscribe(client, headers, receiver.url)
        provider = make_provider(client, headers)
        budget = create_budget(
            client,
            headers,
            name="Compute",
            scope={"kind": "provider", "id": provider[0]},
            currency="USD",
            amounts={month: "100.00"},
            thresholds=[{"kind": "actual", "percent": "50"}, {"kind": "actual", "percent": "100"}],
        )
        # 60 USD (and 1000 EUR, which a USD budget never counts): the 50% threshold fires.
        started = time.monotonic()
        rows = [cost_row(day, "60"), cost_row(day, "1000", currency="EUR", ServiceName="Storage")]
        assert push(client, provider, rows).status_code == 200
        wait_until(lambda: len(receiver.arrivals) == 1)
        assert time.monotonic() - started < 60
        for _ in range(3):  # the same data again: nothing new fires
            assert push(client, provider, rows).status_code == 200
        # 110 USD: the 100% threshold fires, the 50% one does not again.
        rows.append(cost_row(day, "50", ServiceName="Network"))
        for _ in range(3):
            assert push(client, provider, rows).status_code == 200
        wait_until(lambda: len(receiver.arrivals) == 2)
        status = client.get(f"/api/v1/budgets/{budget['id']}/status", headers=headers).json()
        assert status["actual"] == "110.000000000000" and status["amount"] == "100.00"
        assert [(t["percent"], t["crossed"], t["firedAt"] is not None) for t in status["thresholds"]] == [
            ("50", True, True),
            ("100", True, True),
        ]
    with TestClient(create_app(settings)) as client:  # a restart sweeps every budget: still nothing new
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert evaluate_budget(runtime, get_budget(runtime, "ws_default", budget["id"])) == []
        assert push(client, provider, rows).status_code == 200
        time.sleep(0.5)
    events = crossed_events(receiver, secret)
    assert len(receiver.arrivals) == 2 and len(events) == 2
    first, second = events[1], events[0]  # sorted by percent text: "100" < "50"
    assert first["type"] == "budget.threshold_crossed"
    assert first["data"]["threshold"] == {"kind": "actual", "percent": "50"}
    assert first["data"]["actual"] == "60.000000000000" and first["data"]["currency"] == "USD"
    assert second["data"]["threshold"] == {"kind": "actual", "percent": "100"}
    assert second["data"]["actual"] == "110.000000000000"
    assert second["data"]["scope"] == {"kind": "provider", "id": provider[0]}
    assert second["data"]["period"] == month and second["data"]["amount"] == "100.00"


def test_forecast_threshold_fires_once(
    client: TestClient, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    secret = subscribe(client, admin_headers, receiver.url)
    provider = make_provider(client, admin_headers)
    budget = create_budget(
        client,
        admin_headers,
        name="June",
        scope={"kind": "provider", "id": provider[0]},
        currency="USD",
        amounts={"2026-06": "250"},
        thresholds=[{"kind": "actual", "percent": "80"}, {"kind": "forecast", "probability": "0.5"}],
    )
    rows = [cost_row(f"2026-06-{d:02d}", "10") for d in range(1, 11)]
    assert push(client, provider, rows).status_code == 200
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    loaded = get_budget(runtime, "ws_default", budget["id"])
    assert loaded is not None
    mid_june = datetime(2026, 6, 11, 8, tzinfo=UTC)
    # 100 so far and 10 a day for 20 more days: 300 > 250 for sure; 80% of 250 (200) is not reached.
    fired = evaluate_budget(runtime, loaded, now=mid_june)
    assert len(fired) == 1
    assert evaluate_budget(runtime, loaded, now=mid_june) == []
    wait_until(lambda: len(receiver.arrivals) == 1)
    payload = crossed_events(receiver, secret)[0]
    assert payload["id"] == fired[0]
    assert payload["data"]["threshold"] == {"kind": "forecast", "probability": "0.5"}
    assert payload["data"]["actual"] == "100.000000000000"
    assert payload["data"]["projected"] == "300.000000000000"
    assert (
        payload["data"]["probabilityAboveBudget"] == 1.0 and payload["data"]["forecastMethod"] == "run-rate"
    )
    status = client.get(f"/api/v1/budgets/{budget['id']}/status?period=2026-06", headers=admin_headers).json()
    # June is over now: the status shows the final figures and the forecast threshold stays recorded.
    assert status["actual"] == status["projected"] == "100.000000000000"
    assert [t["firedAt"] is not None for t in status["thresholds"]] == [False, True]


def test_run_rate_projection() -> None:
    today = date(2026, 6, 11)
    flat = {date(2026, 6, d): Decimal("10") for d in range(1, 11)}
    at_budget = run_rate(flat, "2026-06", Decimal("300"), today)
    assert (at_budget.actual, at_budget.projected, at_budget.probability_above) == (
        Decimal(100),
        Decimal(300),
        0.0,
    )
    assert run_rate(flat, "2026-06", Decimal("299.99"), today).probability_above == 1.0
    # Alternating 5 and 15 a day: mean 10, the projection lands on the budget, so P(above) = 0.5.
    noisy = {date(2026, 6, d): Decimal(5 if d % 2 else 15) for d in range(1, 11)}
    half = run_rate(noisy, "2026-06", Decimal("300"), today)
    assert half.projected == Decimal(300) and abs(half.probability_above - 0.5) < 1e-9
    assert run_rate(noisy, "2026-06", Decimal("400"), today).probability_above < 0.01
    # Data lagging: days after the last day with data are forecast, including today.
    lagging = run_rate(
        {date(2026, 6, d): Decimal("10") for d in range(1, 6)}, "2026-06", Decimal(1000), today
    )
    assert lagging.projected == Decimal(300) and lagging.last_day_with_data == date(2026, 6, 5)
    # A month that is over: the result is what was recorded.
    done = run_rate(flat, "2026-06", Decimal("50"), date(2026, 7, 2))
    assert (done.projected, done.probability_above, done.method) == (Decimal(100), 1.0, "actual")
    # History from the month before feeds the rate of a month that just began.
    may = {date(2026, 5, d): Decimal("4") for d in range(18, 32)}
    early = run_rate(may, "2026-06", Decimal("100"), date(2026, 6, 1))
    assert early.actual == 0 and early.projected == Decimal(120)


def test_budget_crud_and_errors(client: TestClient, admin_headers: dict[str, str]) -> None:
    provider = make_provider(client, admin_headers)
    scope = {"kind": "provider", "id": provider[0]}
    budget = create_budget(
        client, admin_headers, name="A", scope=scope, currency="usd", amounts={"2026-06": "10.5"}
    )
    assert budget["currency"] == "USD" and budget["amounts"] == {"2026-06": "10.5"}
    assert [t["kind"] for t in budget["thresholds"]] == ["actual", "actual", "forecast"]
    listed = client.get("/api/v1/budgets", headers=admin_headers).json()["budgets"]
    assert [b["id"] for b in listed] == [budget["id"]]
    patched = client.patch(
        f"/api/v1/budgets/{budget['id']}",
        json={"amounts": {"2026-07": "20", "2026-06": None}},
        headers=admin_headers,
    )
    assert patched.status_code == 200 and patched.json()["amounts"] == {"2026-07": "20"}

    def bad(body: dict[str, Any], field: str, status: int = 400, code: str = "invalid_request") -> None:
        response = client.post("/api/v1/budgets", json=body, headers=admin_headers)
        assert response.status_code == status, response.text
        assert response.json()["code"] == code
        assert json.loads(response.json()["details"])["field"] == field

    base = {"name": "B", "scope": scope, "currency": "USD", "amounts": {"2026-06": "1"}}
    bad({**base, "scope": {"kind": "view", "id": "view_nope"}}, "scope.id")
    bad({**base, "scope": {"kind": "account", "id": "x"}}, "scope.kind")
    bad({**base, "scope": {"kind": "provider", "id": "prv_nope"}}, "scope.id")
    bad({**base, "currency": "XYZ"}, "currency")
    bad({**base, "amounts": {"2026-06": 100.5}}, "amounts.2026-06")
    bad({**base, "amounts": {"2026-06": "-3"}}, "amounts.2026-06")
    bad({**base, "amounts": {"2026-06": "1e-999999999"}}, "amounts.2026-06")
    bad({**base, "amounts": {"2026-06": "NaN"}}, "amounts.2026-06")
    bad({**base, "amounts": {"2026-06": "1e16"}}, "amounts.2026-06")
    bad({**base, "amounts": {"June": "3"}}, "amounts.June")
    bad({**base, "thresholds": [{"kind": "actual", "percent": "0"}]}, "thresholds[0].percent")
    bad({**base, "thresholds": [{"kind": "forecast", "probability": "1.5"}]}, "thresholds[0].probability")
    bad({**base, "thresholds": [{"kind": "sometimes"}]}, "thresholds[0].kind")
    bad({**base, "costColumn": "ListCost"}, "costColumn")
    bad({**base, "name": "A"}, "name", 409, "budget_exists")
    status = client.get(f"/api/v1/budgets/{budget['id']}/status?period=2026-13", headers=admin_headers)
    assert status.status_code == 400 and json.loads(status.json()["details"])["field"] == "period"
    assert client.delete(f"/api/v1/budgets/{budget['id']}", headers=admin_headers).status_code == 204
    for method, path in [("get", ""), ("patch", ""), ("delete", ""), ("get", "/status")]:
        kwargs: dict[str, Any] = {"json": {}} if method == "patch" else {}
        response = client.request(
            method, f"/api/v1/budgets/{budget['id']}{path}", headers=admin_headers, **kwargs
        )
        assert response.status_code == 404 and response.json()["code"] == "not_found"
