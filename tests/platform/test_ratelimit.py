"""Per-key rate limits: token buckets, the 429 envelope, Retry-After and RateLimit headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from focusbase.api.ratelimit import RateLimiter, rate_limit
from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limited(tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "d", rate_limit_read_per_minute=3, rate_limit_ingest_per_minute=2)
    app: FastAPI = create_app(settings)
    app.state.rate_limiter = RateLimiter({"read": 3, "ingest": 2}, clock=clock)

    @app.get("/test/read", dependencies=[Depends(rate_limit("read"))])
    def read() -> dict[str, str]:
        return {"ok": "read"}

    @app.post("/test/ingest", dependencies=[Depends(rate_limit("ingest"))])
    def ingest() -> dict[str, str]:
        return {"ok": "ingest"}

    with TestClient(app) as client:
        yield client


def _key(client: TestClient) -> dict[str, str]:
    catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
    key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="r", scopes=["read"])
    return {"X-API-Key": key.key}


def test_bucket_allows_the_limit_then_refuses(limited: TestClient, clock: Clock) -> None:
    headers = _key(limited)
    seen = []
    for _ in range(3):
        response = limited.get("/test/read", headers=headers)
        assert response.status_code == 200
        seen.append(response.headers["RateLimit-Remaining"])
        assert response.headers["RateLimit-Limit"] == "3"
    assert seen == ["2", "1", "0"]
    refused = limited.get("/test/read", headers=headers)
    assert refused.status_code == 429
    body = refused.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == "rate_limited"
    assert "3 read requests per minute" in body["message"]
    # 3 a minute refills one request every 20 s.
    assert refused.headers["Retry-After"] == "20"
    assert refused.headers["RateLimit-Limit"] == "3" and refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Reset"] == "60"
    assert refused.headers["X-Request-Id"]

    clock.now += 19
    assert limited.get("/test/read", headers=headers).status_code == 429
    clock.now += 2
    allowed = limited.get("/test/read", headers=headers)
    assert allowed.status_code == 200 and allowed.headers["RateLimit-Remaining"] == "0"


def test_keys_and_classes_have_separate_buckets(limited: TestClient) -> None:
    first, second = _key(limited), _key(limited)
    for _ in range(3):
        assert limited.get("/test/read", headers=first).status_code == 200
    assert limited.get("/test/read", headers=first).status_code == 429
    assert limited.get("/test/read", headers=second).status_code == 200
    # The ingest bucket of the same key is untouched, with its own limit.
    ingest = [limited.post("/test/ingest", headers=first).status_code for _ in range(3)]
    assert ingest == [200, 200, 429]


def test_unauthenticated_requests_are_limited_by_address(limited: TestClient) -> None:
    codes = [limited.get("/test/read").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    # Invalid keys count against the address too, not against the key id they name.
    bogus = {"X-API-Key": "fbk_key_0000000000000000_forged"}
    assert limited.get("/test/read", headers=bogus).status_code == 429
    assert limited.get("/test/read", headers=_key(limited)).status_code == 200


def test_unlimited_routes_have_no_ratelimit_headers(limited: TestClient) -> None:
    response = limited.get("/healthz")
    assert "RateLimit-Limit" not in response.headers


def test_rate_limited_requests_are_counted(limited: TestClient) -> None:
    for _ in range(4):
        limited.get("/test/read")
    text = limited.get("/metrics").text
    assert 'focusbase_rate_limited_requests_total{limit_class="read"} 1.0' in text


def test_limit_of_zero_disables_the_class() -> None:
    limiter = RateLimiter({"read": 0, "ingest": 1})
    assert all(limiter.hit("read", "k") is None for _ in range(100))
    first = limiter.hit("ingest", "k")
    second = limiter.hit("ingest", "k")
    assert first is not None and first.allowed and second is not None and not second.allowed


def test_refill_is_continuous_and_capped() -> None:
    clock = Clock()
    limiter = RateLimiter({"read": 600}, clock=clock)
    for _ in range(600):
        decision = limiter.hit("read", "k")
        assert decision is not None and decision.allowed
    refused = limiter.hit("read", "k")
    assert refused is not None and not refused.allowed and refused.retry_after == 1
    clock.now += 0.5  # 600 a minute = 10 a second
    decisions = [limiter.hit("read", "k") for _ in range(6)]
    assert [d.allowed for d in decisions if d] == [True] * 5 + [False]
    clock.now += 3600
    decision = limiter.hit("read", "k")
    assert decision is not None and decision.remaining == 599


def test_idle_buckets_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("focusbase.api.ratelimit._MAX_BUCKETS", 2)
    clock = Clock()
    limiter = RateLimiter({"read": 60}, clock=clock)
    limiter.hit("read", "old")
    limiter.hit("read", "busy")
    clock.now += 120
    for _ in range(30):
        limiter.hit("read", "busy")
    limiter.hit("read", "new")
    assert set(limiter._buckets) == {("read", "busy"), ("read", "new")}


def test_unknown_class_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="limit class"):
        rate_limit("write")  # type: ignore[arg-type]
