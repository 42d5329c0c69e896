"""Anomalies and forecasts over real pushed rows: netted accounts, expected purchases, states, errors."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from focusbase.analytics.anomaly_service import wait_for_detection
from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.storage import Catalog
from focusbase.storage.anomalies import detection_done, queue_detection, queued_detections
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.ingest.conftest import Provider

START = date(2026, 6, 1)
DAYS = 120
SHIFT_DAY = 100


def _rows() -> list[dict[str, Any]]:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(DAYS):
        day = START + timedelta(days=i)
        a = 500 * rng.lognormal(0, 0.04)
        b = 500 * rng.lognormal(0, 0.04)
        if i >= SHIFT_DAY:  # account A rises by 250 a day while account B falls by 250: the total is flat
            a, b = a + 250, b - 250
        for account, cost in (("acct-a", a), ("acct-b", b)):
            rows.append(_row(day, account, f"{cost:.4f}", "Usage"))
        if day.day == 1:  # a large commitment purchase every month start: expected, never an anomaly
            rows.append(_row(day, "acct-a", "20000.00", "Purchase"))
    return rows


def _row(day: date, account: str, cost: str, category: str) -> dict[str, Any]:
    return {
        "ChargePeriodStart": day.isoformat(),
        "ChargePeriodEnd": (day + timedelta(days=1)).isoformat(),
        "BilledCost": cost,
        "EffectiveCost": cost,
        "BillingCurrency": "USD",
        "ChargeCategory": category,
        "ServiceName": "Compute",
        "SubAccountId": account,
        "RegionId": "us-east-1",
    }


@pytest.fixture
def pushed(client: TestClient, admin_headers: dict[str, str]) -> Provider:
    provider = Provider(client, admin_headers, "Acme Cloud", "USD")
    response = provider.push(_rows())
    assert response.status_code == 200, response.text
    assert wait_for_detection(client.app.state.runtime)  # type: ignore[attr-defined]
    return provider


def test_netted_children_alert_and_purchases_do_not(
    client: TestClient, admin_headers: dict[str, str], pushed: Provider
) -> None:
    body = client.get("/api/v1/anomalies", headers=admin_headers).json()
    found = {(a["scope"], a["scopeValue"], a["direction"]) for a in body["data"]}
    shift = (START + timedelta(days=SHIFT_DAY)).isoformat()
    assert ("SubAccountId", "acct-a", "up") in found
    assert ("SubAccountId", "acct-b", "down") in found
    assert not [a for a in body["data"] if a["scope"] == "provider"]  # the total nets to zero
    assert not [a for a in body["data"] if a["startDate"][8:] == "01"]  # month-start purchases
    up = next(a for a in body["data"] if a["scopeValue"] == "acct-a")
    assert up["startDate"] <= (START + timedelta(days=SHIFT_DAY + 3)).isoformat() and up["startDate"] >= shift
    assert up["currency"] == "USD" and "." in up["impact"] and float(up["impact"]) > 0
    assert up["contributors"][0]["dimension"] in {"RegionId", "ServiceName"}
    assert up["state"] == "New"


def test_state_changes_record_who_and_are_admin_only(
    client: TestClient, admin_headers: dict[str, str], catalog: Catalog, pushed: Provider
) -> None:
    anomaly = client.get("/api/v1/anomalies", headers=admin_headers).json()["data"][0]
    url = f"/api/v1/anomalies/{anomaly['id']}"
    reader = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="r", scopes=["read"]).key
    read_headers = {"Authorization": f"Bearer {reader}"}
    denied = client.patch(url, json={"state": "Acknowledged"}, headers=read_headers)
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    bad = client.patch(url, json={"state": "Snoozed"}, headers=admin_headers)
    assert bad.status_code == 400 and set(bad.json()) >= {"code", "message", "details"}
    done = client.patch(url, json={"state": "False positive", "note": "planned"}, headers=admin_headers)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "False positive" and done.json()["stateChangedBy"]
    listed = client.get("/api/v1/anomalies", params={"state": "False positive"}, headers=read_headers).json()
    assert [a["id"] for a in listed["data"]] == [anomaly["id"]]
    missing = client.get("/api/v1/anomalies/ano_nope", headers=read_headers)
    assert missing.status_code == 404 and missing.json()["code"] == "anomaly_not_found"
    for params in ({"severity": "Huge"}, {"startFrom": "yesterday"}, {"pageToken": "%%%"}, {"scope": "x"}):
        response = client.get("/api/v1/anomalies", params=params, headers=read_headers)
        assert response.status_code == 400, params
        body = response.json()
        # Enum and pattern checks come from the schema (invalid_request); the rest from the handler.
        assert body["code"] in {"invalid_parameter", "invalid_page_token", "invalid_request"}, body
        name = next(iter(params))
        assert name in body["message"] or name in str(body["details"]), body


def test_provider_limited_key_sees_only_its_providers(
    client: TestClient, admin_headers: dict[str, str], catalog: Catalog, pushed: Provider
) -> None:
    other = create_key(
        catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="o", scopes=["read"], provider_ids=["prv_other"]
    ).key
    headers = {"Authorization": f"Bearer {other}"}
    assert client.get("/api/v1/anomalies", headers=headers).json()["data"] == []
    anomaly = client.get("/api/v1/anomalies", headers=admin_headers).json()["data"][0]
    assert client.get(f"/api/v1/anomalies/{anomaly['id']}", headers=headers).status_code == 404
    assert client.get("/api/v1/forecasts", params={"provider": pushed.id}, headers=headers).status_code == 403


def test_forecast_and_month_end(client: TestClient, admin_headers: dict[str, str], pushed: Provider) -> None:
    response = client.get("/api/v1/forecasts", params={"provider": pushed.id}, headers=admin_headers)
    assert response.status_code == 200, response.text
    (usd,) = response.json()["data"]
    assert usd["currency"] == "USD" and usd["calibrated"] is True and usd["model"]
    assert usd["bandLevel"] == 0.8 and 0.5 <= usd["bandLevelAdapted"] <= 0.98
    # Data ends 2026-09-28: the projection is September's actual to date plus two forecast days.
    month = usd["monthEnd"]
    assert month["month"] == "2026-09" and usd["dataThrough"] == "2026-09-28"
    rest = float(month["expected"]) - float(month["actualToDate"])
    assert 1500 < rest < 2500  # two days of about 1,000
    assert float(month["lower"]) <= float(month["expected"]) <= float(month["upper"])
    assert len(usd["days"]) == 30 and all(float(d["lower"]) <= float(d["upper"]) for d in usd["days"])
    bad = client.get(
        "/api/v1/forecasts", params={"provider": pushed.id, "scope": "ServiceName"}, headers=admin_headers
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_parameter"


def test_filters_and_pages(client: TestClient, admin_headers: dict[str, str], pushed: Provider) -> None:
    everything = client.get("/api/v1/anomalies", headers=admin_headers).json()["data"]
    assert len(everything) >= 2
    pages, token = [], None
    while True:
        params: dict[str, Any] = {"pageSize": 1, **({"pageToken": token} if token else {})}
        body = client.get("/api/v1/anomalies", params=params, headers=admin_headers).json()
        pages += body["data"]
        token = body["nextPageToken"]
        if token is None:
            break
    assert [a["id"] for a in pages] == [a["id"] for a in everything]
    accounts = client.get(
        "/api/v1/anomalies", params={"scope": "SubAccountId", "scopeValue": "acct-b"}, headers=admin_headers
    ).json()["data"]
    assert accounts and all(a["scopeValue"] == "acct-b" for a in accounts)
    severe = {a["severity"] for a in everything}
    high = client.get("/api/v1/anomalies", params={"minSeverity": "High"}, headers=admin_headers).json()
    assert {a["id"] for a in high["data"]} == {
        a["id"] for a in everything if a["severity"] in {"High", "Critical"}
    }, severe
    none = client.get(
        "/api/v1/anomalies", params={"minSeverity": "Critical", "severity": "Low"}, headers=admin_headers
    ).json()
    assert none["data"] == []
    later = client.get("/api/v1/anomalies", params={"startFrom": "2027-01-01"}, headers=admin_headers).json()
    assert later["data"] == []


def test_each_new_anomaly_queues_one_anomaly_created_webhook(
    client: TestClient, admin_headers: dict[str, str], settings: Any
) -> None:
    settings.webhook_allow_private_destinations = True  # the endpoint below is on loopback
    endpoint = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["anomaly.created"]},
        headers=admin_headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    provider = Provider(client, admin_headers, "Acme Cloud", "USD")
    assert provider.push(_rows()).status_code == 200
    assert wait_for_detection(client.app.state.runtime)  # type: ignore[attr-defined]
    anomalies = client.get("/api/v1/anomalies", headers=admin_headers).json()["data"]
    assert anomalies
    catalog: Catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
    with catalog.read() as conn:
        bodies = [
            row["body"]
            for row in conn.execute("SELECT body FROM webhook_events WHERE type = 'anomaly.created'")
        ]
    queued = sorted(json.loads(body)["data"]["id"] for body in bodies)
    assert queued == sorted(a["id"] for a in anomalies)
    # Detecting again over the same data finds the same events: no second notification.
    client.post("/api/v1/anomalies/detect", json={"providerId": provider.id}, headers=admin_headers)
    assert wait_for_detection(client.app.state.runtime)  # type: ignore[attr-defined]
    with catalog.read() as conn:
        again = conn.execute("SELECT count(*) FROM webhook_events WHERE type = 'anomaly.created'").fetchone()
    assert again[0] == len(queued)


def test_detection_waits_for_the_provider_to_go_quiet(
    client: TestClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    settings.anomaly_detect_delay_seconds = 30.0
    provider = Provider(client, admin_headers, "Acme Cloud", "USD")
    assert provider.push(_rows()).status_code == 200
    time.sleep(1.0)  # far longer than a detection of these rows takes, far shorter than the delay
    assert client.get("/api/v1/anomalies", headers=admin_headers).json()["data"] == []
    # Waiting for detection runs the pending provider without its quiet period.
    assert wait_for_detection(client.app.state.runtime, timeout=30)  # type: ignore[attr-defined]
    assert client.get("/api/v1/anomalies", headers=admin_headers).json()["data"]


def test_start_to_includes_its_own_day(
    client: TestClient, admin_headers: dict[str, str], pushed: Provider
) -> None:
    anomaly = client.get("/api/v1/anomalies", headers=admin_headers).json()["data"][0]
    start = date.fromisoformat(anomaly["startDate"])
    on = client.get("/api/v1/anomalies", params={"startTo": start.isoformat()}, headers=admin_headers).json()
    assert anomaly["id"] in [a["id"] for a in on["data"]]
    before = (start - timedelta(days=1)).isoformat()
    off = client.get("/api/v1/anomalies", params={"startTo": before}, headers=admin_headers).json()
    assert anomaly["id"] not in [a["id"] for a in off["data"]]


def test_detection_queued_before_a_stop_runs_after_the_next_start(settings: Settings) -> None:
    settings.anomaly_detect_delay_seconds = 3600.0  # the first server stops long before its quiet period ends
    settings.anomaly_detect_max_delay_seconds = 3600.0
    with TestClient(create_app(settings)) as first:
        catalog: Catalog = first.app.state.runtime.catalog  # type: ignore[attr-defined]
        key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="admin", scopes=["admin"]).key
        headers = {"Authorization": f"Bearer {key}"}
        provider = Provider(first, headers, "Acme Cloud", "USD")
        assert provider.push(_rows()).status_code == 200
        assert first.get("/api/v1/anomalies", headers=headers).json()["data"] == []
        assert [job for job, _ in queued_detections(catalog)] == [
            (DEFAULT_WORKSPACE_ID, "provider", provider.id)
        ]
    # The queue outlived the process; the next one runs it (here at once, through the flush).
    with TestClient(create_app(settings)) as second:
        runtime = second.app.state.runtime  # type: ignore[attr-defined]
        assert queued_detections(runtime.catalog)
        assert wait_for_detection(runtime, timeout=60)
        assert second.get("/api/v1/anomalies", headers=headers).json()["data"]
        assert queued_detections(runtime.catalog) == []


def test_a_submission_during_a_run_stays_queued(client: TestClient, pushed: Provider) -> None:
    catalog: Catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
    job = (DEFAULT_WORKSPACE_ID, "provider", pushed.id)
    first = queue_detection(catalog, job)
    second = queue_detection(catalog, job)  # queued again while the first submission's run goes on
    detection_done(catalog, job, first)  # that run ends: the later submission must still run
    assert queued_detections(catalog) == [(job, second)]
    detection_done(catalog, job, second)
    assert queued_detections(catalog) == []
