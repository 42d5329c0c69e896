"""Budgets on saved views fire after commits; the month-end projection uses the calibrated forecast."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
from fastapi.testclient import TestClient

from focusbase.budgets.forecast import projection
from focusbase.config import Settings
from tests.budgets.test_budgets import create_budget, crossed_events, subscribe
from tests.notify.conftest import Receiver, cost_row, make_provider, push, wait_until


def test_view_budget_fires_within_a_minute_of_a_commit(
    client: TestClient, admin_headers: dict[str, str], receiver: Receiver, settings: Settings
) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")
    day = f"{month}-01"
    secret = subscribe(client, admin_headers, receiver.url)
    provider = make_provider(client, admin_headers, "A")
    other = make_provider(client, admin_headers, "B")
    # A tag filter: the view is read from the live rows (the rollup keeps no tags).
    query = {"filters": [{"dimension": "tag:team", "op": "equals", "values": ["core"]}]}
    view = client.post(
        "/api/v1/views", json={"name": "Compute", "query": query}, headers=admin_headers
    ).json()
    budget = create_budget(
        client,
        admin_headers,
        name="Compute",
        scope={"kind": "view", "id": view["id"]},
        currency="USD",
        amounts={month: "100.00"},
        thresholds=[{"kind": "actual", "percent": "50"}, {"kind": "actual", "percent": "100"}],
    )
    started = time.monotonic()
    # 40 of team core and 500 of another team (outside the view) at A: nothing yet. Then 20 at B: 60.
    core = {"Tags": {"team": "core"}}
    rows = [cost_row(day, "40", **core), cost_row(day, "500", Tags={"team": "data"})]
    assert push(client, provider, rows).status_code == 200
    assert push(client, other, [cost_row(day, "20", ServiceName="Network", **core)]).status_code == 200
    wait_until(lambda: len(receiver.arrivals) == 1)
    assert time.monotonic() - started < 60
    time.sleep(0.3)
    assert len(receiver.arrivals) == 1  # the 100% threshold is not reached: 60 of 100
    (event,) = crossed_events(receiver, secret)
    assert event["data"]["scope"] == {"kind": "view", "id": view["id"]}
    assert event["data"]["actual"] == "60.000000000000"
    assert event["data"]["threshold"] == {"kind": "actual", "percent": "50"}
    status = client.get(f"/api/v1/budgets/{budget['id']}/status", headers=admin_headers).json()
    assert status["actual"] == "60.000000000000" and status["thresholds"][0]["firedAt"] is not None


def _series(days: int, first: date, seed: int = 4) -> dict[date, Decimal]:
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(days):
        day = first + timedelta(days=i)
        base = 130 if day.weekday() < 5 else 70
        out[day] = Decimal(f"{base * rng.lognormal(0, 0.06):.4f}")
    return out


def test_projection_uses_the_calibrated_forecast_and_falls_back_when_history_is_short() -> None:
    daily = _series(120, date(2026, 3, 1))  # through 2026-06-28
    purchase = {date(2026, 6, 1): Decimal("5000")}  # expected spend: counted, never extrapolated
    daily[date(2026, 6, 1)] += purchase[date(2026, 6, 1)]
    today = date(2026, 6, 29)
    june = sum((v for d, v in daily.items() if d.month == 6), Decimal(0))
    found = projection(daily, purchase, "2026-06", Decimal("9000"), today, history_days=400)
    assert found.method == "forecast" and found.model is not None and found.actual == june
    assert found.lower is not None and found.upper is not None
    # Two days left of about 70 to 130 each: the projection adds about that, not another purchase.
    assert Decimal(100) < found.projected - june < Decimal(300)
    assert found.lower <= found.projected <= found.upper
    chances = [
        projection(daily, purchase, "2026-06", amount, today, history_days=400).probability_above
        for amount in (found.lower - 50, found.lower, found.projected, found.upper, found.upper + 50)
    ]
    assert chances == sorted(chances, reverse=True)
    # (the band edges are rounded to cents)
    assert chances[0] == 1.0 and abs(chances[1] - 0.9) < 1e-3 and abs(chances[3] - 0.1) < 1e-3
    assert chances[-1] == 0.0
    # Ten days of history: the run-rate, and the month after it is over: what was recorded.
    short = {d: v for d, v in daily.items() if d >= date(2026, 6, 11)}
    fallback = projection(short, {}, "2026-06", Decimal("9000"), today, history_days=400)
    assert (fallback.method, fallback.model, fallback.lower) == ("run-rate", None, None)
    over = projection(daily, purchase, "2026-06", Decimal("9000"), date(2026, 7, 2), history_days=400)
    assert (over.method, over.projected, over.probability_above) == ("actual", june, 0.0)  # below 9000


def test_forecast_threshold_fires_from_the_calibrated_forecast_after_a_commit(
    client: TestClient, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    # 110 days of history up to yesterday: a calibrated forecast of this month, fitted after the commit.
    today = datetime.now(UTC).date()
    history = _series(110, today - timedelta(days=110))
    month = today.strftime("%Y-%m")
    secret = subscribe(client, admin_headers, receiver.url)
    provider = make_provider(client, admin_headers, "A")
    budget = create_budget(
        client,
        admin_headers,
        name="This month",
        scope={"kind": "provider", "id": provider[0]},
        currency="USD",
        amounts={month: "1.00"},  # far below any plausible month: P(above) is 1
        thresholds=[{"kind": "forecast", "probability": "0.9"}],
    )
    started = time.monotonic()
    rows = [cost_row(day.isoformat(), str(cost)) for day, cost in history.items()]
    assert push(client, provider, rows).status_code == 200
    wait_until(lambda: len(receiver.arrivals) == 1, timeout=60)
    assert time.monotonic() - started < 60
    (event,) = crossed_events(receiver, secret)
    data = event["data"]
    assert data["forecastMethod"] == "forecast" and data["probabilityAboveBudget"] == 1.0
    assert data["forecastModel"] and Decimal(data["projectedLower"]) <= Decimal(data["projectedUpper"])
    status = client.get(f"/api/v1/budgets/{budget['id']}/status", headers=admin_headers).json()
    assert status["forecastMethod"] == "forecast" and status["thresholds"][0]["eventId"] == event["id"]
    assert status["projected"] == data["projected"]
