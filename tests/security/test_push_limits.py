"""Hostile pushes against a real server: wide rows, many distinct keys, unknown columns.

Each answer is checked for its status, code and size, and the server process for the CPU time the request
cost it and its peak memory, read from /proc (the client's clock says nothing on a loaded machine).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from focusbase.app import create_app
from focusbase.config import Settings
from tests.conftest import serve_app
from tests.ingest.server import Server, admin_key
from tests.security.probe import cpu_seconds, peak_rss_mb

pytestmark = pytest.mark.e2e

MAX_BODY = 64 * 1024
# The server idles at ~150-200 MB; a request that built its table before checking limits reached GBs.
MAX_PEAK_RSS_MB = 600


@dataclass
class Target:
    server: Server
    client: httpx.Client
    admin: dict[str, str]
    provider_id: str
    ingest: dict[str, str]

    @property
    def pid(self) -> int:
        assert self.server.process is not None
        return self.server.process.pid

    def push(self, rows: list[dict[str, Any]], headers: dict[str, str] | None = None) -> httpx.Response:
        body = orjson.dumps({"format": "stackspend.focus", "version": "1", "rows": rows})
        return self.client.post(
            f"/api/v1/public/ingest/focus/{self.provider_id}",
            content=body,
            headers={**self.ingest, "Content-Type": "application/json", **(headers or {})},
        )


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("hostile-push")
    data_dir = root / "data"
    admin = {"Authorization": f"Bearer {admin_key(data_dir)}"}
    server = Server(data_dir, root / "server.log")
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            created = client.post(
                "/api/v1/providers", json={"name": "Hostile", "defaultCurrency": "USD"}, headers=admin
            )
            assert created.status_code == 201, created.text
            body = created.json()
            yield Target(server, client, admin, body["id"], {"Authorization": f"Bearer {body['ingestKey']}"})
    finally:
        server.stop()


def base_row(day: str = "2026-06-01") -> dict[str, Any]:
    return {"ChargePeriodStart": day, "BilledCost": "1.25", "ChargeCategory": "Usage", "ServiceName": "Logs"}


def live_rows(target: Target) -> int:
    response = target.client.get(
        "/focus/v1/cost-and-usage",
        params={"billingPeriodStart": "2026-06-01T00:00:00Z", "billingPeriodEnd": "2026-07-01T00:00:00Z"},
        headers=target.admin,
    )
    assert response.status_code == 200, response.text
    return int(response.json()["totalRecords"])


def test_ten_thousand_unknown_columns_are_one_small_error(target: Target) -> None:
    row = base_row() | {f"Colour{i}": "blue" for i in range(10_000)}
    before = cpu_seconds(target.pid)
    response = target.push([row], headers={"Idempotency-Key": "wide-unknown"})
    spent = cpu_seconds(target.pid) - before
    assert response.status_code == 422
    assert len(response.content) < MAX_BODY
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["errorCount"] == 1 and len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["code"] == "unknown_column" and error["column"] == "Colour0"
    assert (
        "10000 unknown columns, the first 5: Colour0, Colour1, Colour2, Colour3, Colour4" in error["message"]
    )
    assert spent < 1.0, f"the server spent {spent:.2f} CPU-s on the request"
    # What is stored for an idempotent replay is the same small answer.
    replay = target.push([row], headers={"Idempotency-Key": "wide-unknown"})
    assert replay.status_code == 422 and replay.content == response.content
    # History keeps the failed batch with the one error.
    batch = target.client.get(f"/api/v1/batches/{body['batchId']}", headers=target.admin)
    assert batch.status_code == 200 and len(batch.content) < MAX_BODY
    assert batch.json()["status"] == "failed" and batch.json()["errorCount"] == 1
    assert peak_rss_mb(target.pid) < MAX_PEAK_RSS_MB


def test_ten_thousand_custom_columns_in_a_row_are_refused_by_the_limit(target: Target) -> None:
    row = base_row() | {f"x_Tag{i}": "v" for i in range(10_000)}
    before = cpu_seconds(target.pid)
    response = target.push([base_row("2026-06-02"), row])
    spent = cpu_seconds(target.pid) - before
    assert response.status_code == 422
    assert len(response.content) < MAX_BODY
    body = response.json()
    assert body["code"] == "too_many_custom_columns"
    assert body["message"].startswith("row 2 has 10000 custom (x_) columns; at most 200 are accepted per row")
    assert orjson.loads(body["details"]) == {"row": 2, "customColumns": 10_000, "maxCustomColumnsPerRow": 200}
    assert spent < 1.0, f"the server spent {spent:.2f} CPU-s on the request"
    assert live_rows(target) == 0
    assert peak_rss_mb(target.pid) < MAX_PEAK_RSS_MB


def test_distinct_custom_columns_over_rows_are_refused_by_the_batch_limit(target: Target) -> None:
    # 150 keys a row is within the row limit; six rows bring 900 + 150 = 1,050 distinct names.
    rows = [base_row() | {f"x_R{r}_{i}": "v" for i in range(150)} for r in range(7)]
    response = target.push(rows)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "too_many_custom_columns"
    assert "1050 distinct custom (x_) columns; at most 1000 are accepted per batch" in body["message"]
    assert live_rows(target) == 0


def test_rows_that_each_bring_new_keys_are_refused_before_a_table_is_built(target: Target) -> None:
    # 20,000 rows with one new key each would be a 20,000 x 20,004-cell table of nulls (3.2 GB of pointers).
    rows = [base_row() | {f"Key{i}": "v"} for i in range(20_000)]
    before = cpu_seconds(target.pid)
    response = target.push(rows)
    spent = cpu_seconds(target.pid) - before
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "too_many_cells"
    assert orjson.loads(body["details"])["maxCellsPerRequest"] == 30_000_000
    assert len(response.content) < MAX_BODY
    assert spent < 2.0, f"the server spent {spent:.2f} CPU-s on the request"
    assert peak_rss_mb(target.pid) < MAX_PEAK_RSS_MB


def test_a_row_within_the_limits_is_stored_with_its_custom_columns(target: Target) -> None:
    row = base_row("2026-06-03") | {f"x_Tag{i}": str(i) for i in range(200)}
    response = target.push([row])
    assert response.status_code == 200, response.text
    assert live_rows(target) == 1


def test_a_server_error_is_an_ordinary_response_on_a_kept_alive_connection(tmp_path: Path) -> None:
    """After a 500 the connection stays open: a request pipelined behind it on the same socket is answered."""
    app = create_app(Settings(data_dir=tmp_path / "data", secret_key="test"))

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("a bug: SELECT * FROM secret_table failed")

    with serve_app(app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            sock.sendall(
                b"GET /broken HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
    answers = received.split(b"HTTP/1.1 ")[1:]
    assert [a[:3] for a in answers] == [b"500", b"200"], received[:2000]
    assert b'"code":"internal_error"' in answers[0]
    assert b"secret_table" not in received
