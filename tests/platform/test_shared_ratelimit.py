"""Rate limits shared through a PostgreSQL catalog: replicas draw on one budget per key."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from focusbase.api.ratelimit import CatalogRateLimiter, RateLimiter, rate_limit
from focusbase.app import create_app
from focusbase.config import RateLimitStoreUnusable, Settings
from focusbase.storage import ratelimits as store
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog
from focusbase.tenancy.keys import create_key


def test_two_limiters_on_one_catalog_share_one_budget(catalogs: tuple[Catalog, Catalog]) -> None:
    one, two = (CatalogRateLimiter({"read": 5, "ingest": 2}, catalog) for catalog in catalogs)
    seen = []
    for i in range(5):
        decision = (one if i % 2 == 0 else two).hit("read", "key:k1")
        assert decision is not None and decision.allowed and decision.limit == 5
        seen.append(decision.remaining)
    assert seen == [4, 3, 2, 1, 0]
    for limiter in (one, two):
        refused = limiter.hit("read", "key:k1")
        assert refused is not None and not refused.allowed
        assert refused.remaining == 0 and refused.retry_after == 12 and refused.reset_seconds == 60
    # Other keys and other classes have buckets of their own.
    other = two.hit("read", "key:k2")
    assert other is not None and other.allowed and other.remaining == 4
    ingest = [one.hit("ingest", "key:k1"), two.hit("ingest", "key:k1"), one.hit("ingest", "key:k1")]
    assert [d.allowed for d in ingest if d is not None] == [True, True, False]
    assert one.hit("nothing", "key:k1") is None


def test_concurrent_requests_on_two_replicas_never_exceed_the_budget(
    catalogs: tuple[Catalog, Catalog],
) -> None:
    limiters = [CatalogRateLimiter({"read": 10}, catalog) for catalog in catalogs]
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer(limiter: CatalogRateLimiter) -> None:
        for _ in range(8):
            decision = limiter.hit("read", "key:busy")
            assert decision is not None
            with lock:
                allowed.append(decision.allowed)

    threads = [threading.Thread(target=hammer, args=(limiters[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 48 requests within a second or two: the 10 of the bucket, and at most one refilled (one per 6 s).
    assert len(allowed) == 48 and sum(allowed) in (10, 11)


def test_idle_buckets_are_pruned(catalogs: tuple[Catalog, Catalog]) -> None:
    catalog = catalogs[0]
    limiter = CatalogRateLimiter({"read": 5}, catalog, prune_every=0.0)
    limiter.hit("read", "key:old")
    with catalog.read() as conn:
        conn.execute("UPDATE rate_limit_buckets SET updated_at = updated_at - 61")
    limiter.hit("read", "key:new")  # prunes first: the old bucket is full again, so it is forgotten
    with catalog.read() as conn:
        rows = conn.execute("SELECT identity FROM rate_limit_buckets ORDER BY identity").fetchall()
    assert [row[0] for row in rows] == ["key:new"]
    assert store.prune_idle(catalog) == 0


def _app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.get("/test/read", dependencies=[Depends(rate_limit("read"))])
    def read() -> dict[str, str]:
        return {"ok": "read"}

    return app


def test_two_servers_on_one_catalog_share_a_key_budget(postgres_url: str, tmp_path: Path) -> None:
    def settings(name: str) -> Settings:
        return Settings(
            data_dir=tmp_path / name,
            catalog_url=postgres_url,
            secret_key="shared",
            rate_limit_read_per_minute=3,
        )

    with ExitStack() as stack:
        replicas = [stack.enter_context(TestClient(_app(settings(name)))) for name in ("r1", "r2")]
        assert all(isinstance(c.app.state.rate_limiter, CatalogRateLimiter) for c in replicas)  # type: ignore[attr-defined]
        catalog = replicas[0].app.state.runtime.catalog  # type: ignore[attr-defined]
        key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="r", scopes=["read"]).key
        headers = {"X-API-Key": key}
        answers = [replicas[i % 2].get("/test/read", headers=headers) for i in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
        for replica in replicas:
            refused = replica.get("/test/read", headers=headers)
            assert refused.status_code == 429
            body = refused.json()
            assert set(body) == {"code", "message", "details"} and body["code"] == "rate_limited"
            assert "3 read requests per minute" in body["message"]
            assert refused.headers["Retry-After"] == "20" and refused.headers["RateLimit-Reset"] == "60"
            assert refused.headers["RateLimit-Limit"] == "3" and refused.headers["RateLimit-Remaining"] == "0"


def test_the_memory_store_can_be_chosen_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", catalog_url=postgres_url, rate_limit_store="memory")
    with TestClient(create_app(settings)) as client:
        assert type(client.app.state.rate_limiter) is RateLimiter  # type: ignore[attr-defined]


@pytest.mark.embedded_only("the embedded catalog's in-memory buckets")
def test_the_embedded_catalog_keeps_buckets_in_memory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", catalog_url=None)
    with TestClient(create_app(settings)) as client:
        assert type(client.app.state.rate_limiter) is RateLimiter  # type: ignore[attr-defined]
    refused = Settings(data_dir=tmp_path / "e", catalog_url=None, rate_limit_store="catalog")
    app = create_app(refused)
    with pytest.raises(RateLimitStoreUnusable, match="needs a PostgreSQL catalog"), TestClient(app):
        pass
