"""End to end: the real `focusbase serve` process on a free port with a fresh data directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [
    pytest.mark.embedded_only("a server process of its own cannot open this process's chDB"),
    pytest.mark.e2e,
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(base: str, server: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited early: {server.communicate()[1]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


def test_serve_answers_health_metrics_and_management(tmp_path: Path) -> None:
    port = _free_port()
    data_dir = tmp_path / "data"
    env = {**os.environ, "FOCUSBASE_PORT": str(port), "FOCUSBASE_DATA_DIR": str(data_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "focusbase", "serve", "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server)
        assert (data_dir / "warehouse.duckdb").exists()
        # The catalog is the data directory's SQLite file unless a PostgreSQL one is configured.
        assert (data_dir / "catalog.sqlite").exists() is not bool(env.get("FOCUSBASE_CATALOG_URL"))

        # Bootstrap a key with the CLI while the server runs (settings from the same environment).
        made = subprocess.run(
            [sys.executable, "-m", "focusbase", "keys", "create", "--scope", "admin", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        key = json.loads(made.stdout)["key"]
        headers = {"Authorization": f"Bearer {key}", "X-Request-Id": "e2e-1"}

        created = httpx.post(
            f"{base}/api/v1/providers",
            json={"name": "E2E", "defaultCurrency": "EUR"},
            headers=headers,
            timeout=10,
        )
        assert created.status_code == 201, created.text
        assert created.headers["X-Request-Id"] == "e2e-1"
        body = created.json()
        assert body["ingestUrl"] == f"{base}/api/v1/public/ingest/focus/{body['id']}"

        metrics = httpx.get(f"{base}/metrics", timeout=10)
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        labels = 'method="POST",route="/api/v1/providers",status="201"'
        sample = f"focusbase_http_request_duration_seconds_count{{{labels}}}"
        assert f"{sample} 1.0" in metrics.text
        assert "process_resident_memory_bytes" in metrics.text
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, stderr = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    # A graceful stop: uvicorn finishes the lifespan, then exits by the signal it received.
    assert server.returncode in (0, -signal.SIGTERM), stderr
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert any(entry["message"] == "Application shutdown complete." for entry in lines)
    access = [entry for entry in lines if entry.get("requestId") == "e2e-1"]
    assert access and access[0]["path"] == "/api/v1/providers" and access[0]["status"] == 201
    assert {"time", "level", "message", "method", "durationMs"} <= set(access[0])
