"""Fixtures for notification tests: a real loopback HTTP receiver and helpers to make events happen."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.config import Settings


@dataclass
class Arrival:
    """One request the receiver got, and how it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    answer: Any


@dataclass
class Receiver:
    """A loopback webhook receiver; `plan(webhook_id, nth)` says how to answer the nth arrival of an id."""

    url: str
    arrivals: list[Arrival] = field(default_factory=list)
    plan: Callable[[str, int], Any] = lambda _id, _n: 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_id(self) -> dict[str, list[Arrival]]:
        with self.lock:
            grouped: dict[str, list[Arrival]] = {}
            for arrival in self.arrivals:
                grouped.setdefault(arrival.headers.get("webhook-id", ""), []).append(arrival)
            return grouped

    def acknowledged(self) -> dict[str, int]:
        """How many times each webhook-id was answered 2xx."""
        counts: dict[str, int] = {}
        for msg_id, arrivals in self.by_id().items():
            counts[msg_id] = sum(1 for a in arrivals if a.answer == 200)
        return counts


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with state.lock:
                nth = 1 + sum(
                    1 for a in state.arrivals if a.headers.get("webhook-id") == headers.get("webhook-id")
                )
            answer = state.plan(headers.get("webhook-id", ""), nth)
            with state.lock:
                state.arrivals.append(Arrival(self.path, headers, body, answer))
            if answer == "timeout":
                time.sleep(1.5)
                return
            if answer == "redirect":
                self.send_response(302)
                self.send_header("Location", "/redirected")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            payload = b"x" * 10_000 if answer == 200 else f"answer {answer}".encode()
            self.send_response(int(answer))
            if answer == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # A compressed retry schedule and loopback destinations allowed for the local receiver.
    return Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-key",
        rate_limit_ingest_per_minute=100_000,
        rate_limit_read_per_minute=100_000,
        webhook_allow_private_destinations=True,
        webhook_timeout_seconds=0.5,
        webhook_retry_schedule=[0.05, 0.05, 0.05, 0.05, 0.05],
        webhook_retry_jitter=0.0,
        webhook_max_response_bytes=256,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def make_provider(client: TestClient, admin_headers: dict[str, str], name: str = "Acme") -> tuple[str, str]:
    response = client.post(
        "/api/v1/providers", json={"name": name, "defaultCurrency": "USD"}, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["ingestKey"]


def push(client: TestClient, provider: tuple[str, str], rows: list[dict[str, Any]], **params: Any) -> Any:
    provider_id, key = provider
    return client.post(
        f"/api/v1/public/ingest/focus/{provider_id}",
        json={"format": "stackspend.focus", "version": "1", "rows": rows},
        params=params,
        headers={"Authorization": f"Bearer {key}"},
    )


def cost_row(day: str, cost: str, currency: str = "USD", **extra: Any) -> dict[str, Any]:
    return {
        "ChargePeriodStart": day,
        "BilledCost": cost,
        "BillingCurrency": currency,
        "ServiceName": "Compute",
        "ChargeCategory": "Usage",
        **extra,
    }
