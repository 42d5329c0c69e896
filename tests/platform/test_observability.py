"""Health, readiness, Prometheus metrics, request ids and JSON log lines."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.observability import JsonFormatter, record_batch_status, record_ingest


def _metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return None


def _app_with_ingest_route(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.post("/test/ingest")
    def fake_ingest() -> dict[str, str]:
        record_ingest(7, "stored")
        record_ingest(2, "rejected")
        record_batch_status("committed")
        return {"status": "ok"}

    @app.get("/test/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    return app


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"catalog": "ok", "warehouse": "ok"}}


@pytest.mark.embedded_only("breaks the DuckDB warehouse file to fail readiness")
def test_readiness_fails_when_the_warehouse_does_not_answer(client: TestClient) -> None:
    client.app.state.runtime.warehouse.close()  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == "unavailable"
    assert "warehouse" in body["message"] and "catalog" not in body["message"]
    assert json.loads(body["details"])["catalog"] == "ok"
    assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_by_route_template_and_ingest(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "a")
    with TestClient(_app_with_ingest_route(settings)) as client:
        client.post("/test/ingest")
        client.post("/test/ingest")
        client.get("/api/v1/providers/prv_one")
        client.get("/api/v1/providers/prv_two")
        text = client.get("/metrics").text
    assert _metric(text, "focusbase_ingest_rows_total", status="stored") == 14
    assert _metric(text, "focusbase_ingest_rows_total", status="rejected") == 4
    assert _metric(text, "focusbase_batches_total", status="committed") == 2
    count = "focusbase_http_request_duration_seconds_count"
    assert _metric(text, count, method="POST", route="/test/ingest", status="200") == 2
    # Path parameters are folded into the route template, so ids never explode the label set.
    assert _metric(text, count, method="GET", route="/api/v1/providers/{provider_id}", status="401") == 2
    assert "prv_one" not in text
    assert 'le="0.005"' in text


def test_each_app_has_its_own_registry(tmp_path: Path) -> None:
    with (
        TestClient(_app_with_ingest_route(Settings(data_dir=tmp_path / "a"))) as first,
        TestClient(_app_with_ingest_route(Settings(data_dir=tmp_path / "b"))) as second,
    ):
        first.post("/test/ingest")
        assert _metric(first.get("/metrics").text, "focusbase_ingest_rows_total", status="stored") == 7
        assert _metric(second.get("/metrics").text, "focusbase_ingest_rows_total", status="stored") is None


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-Id": "trace-42.a"})
    assert given.headers["X-Request-Id"] == "trace-42.a"
    generated = client.get("/healthz").headers["X-Request-Id"]
    assert len(generated) == 32 and generated != client.get("/healthz").headers["X-Request-Id"]
    hostile = client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"}).headers["X-Request-Id"]
    assert hostile != "bad id\twith spaces" and len(hostile) == 32
    missing = client.get("/no/such/route", headers={"X-Request-Id": "r-404"})
    assert missing.status_code == 404 and missing.headers["X-Request-Id"] == "r-404"


def test_unexpected_errors_carry_the_request_id(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = _app_with_ingest_route(Settings(data_dir=tmp_path / "a"))
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.INFO):
        response = client.get("/test/boom", headers={"X-Request-Id": "r-500"})
    (error,) = [r for r in caplog.records if r.name == "focusbase.errors"]
    entry = json.loads(JsonFormatter().format(error))
    assert entry["level"] == "error" and "RuntimeError: kaboom" in entry["exception"]
    assert entry["requestId"] == "r-500"
    (access,) = [r for r in caplog.records if r.name == "focusbase.access"]
    assert access.status == 500  # type: ignore[attr-defined]
    assert response.status_code == 500 and response.headers["X-Request-Id"] == "r-500"
    body = response.json()
    assert body["code"] == "internal_error" and json.loads(body["details"]) == {"requestId": "r-500"}
    assert "kaboom" not in response.text


def test_access_log_is_one_json_object_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="focusbase.access"):
        client.get("/api/v1/providers", headers={"X-Request-Id": "log-1"})
    records = [r for r in caplog.records if r.name == "focusbase.access"]
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "info" and entry["message"] == "GET /api/v1/providers 401"
    assert entry["requestId"] == "log-1" and entry["method"] == "GET" and entry["path"] == "/api/v1/providers"
    assert entry["status"] == 401 and isinstance(entry["durationMs"], float) and entry["durationMs"] >= 0
    assert entry["time"].endswith("Z") and entry["route"] == "/api/v1/providers"


def test_json_formatter_includes_exceptions() -> None:
    logger = logging.getLogger("focusbase.test")
    try:
        raise ValueError("bad thing")
    except ValueError:
        record = logger.makeRecord("focusbase.test", logging.ERROR, __file__, 1, "failed %s", ("x",), None)
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed x" and entry["level"] == "error"
    assert "ValueError: bad thing" in entry["exception"]


def test_metrics_report_stored_batches_by_status(client: TestClient) -> None:
    warehouse = client.app.state.runtime.warehouse  # type: ignore[attr-defined]
    with warehouse.transaction() as cur:
        for i, status in enumerate(["committed", "committed", "failed"]):
            cur.execute(
                "INSERT INTO batches (id, workspace_id, provider_id, source, mode, status, created_at,"
                " updated_at) VALUES (?, 'ws_default', 'prv_x', 'push', 'append', ?,"
                " now()::TIMESTAMP, now()::TIMESTAMP)",
                [f"bat_{i}", status],
            )
    text = client.get("/metrics").text
    assert _metric(text, "focusbase_stored_batches", status="committed") == 2
    assert _metric(text, "focusbase_stored_batches", status="failed") == 1
    assert _metric(text, "focusbase_stored_batches", status="reverted") is None
