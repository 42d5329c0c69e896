"""Per-key rate limits: a token bucket per (limit class, key), as a route dependency.

Routes opt in by class: `dependencies=[Depends(rate_limit("read"))]` for FOCUS reads,
`rate_limit("ingest")` for pushes, parts and imports. A request is counted against its key when it presents
a valid one, otherwise against its client address. Every limited response carries RateLimit-Limit,
RateLimit-Remaining and RateLimit-Reset; a refused one is a 429 with the error envelope and Retry-After.

The buckets live in the process (`RateLimiter`) or, with a PostgreSQL catalog, in the catalog
(`CatalogRateLimiter`), so API replicas share one budget per key (FOCUSBASE_RATE_LIMIT_STORE).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from fastapi import Request

from focusbase.api.deps import get_runtime, principal_of
from focusbase.api.errors import ApiError
from focusbase.config import Settings, uses_catalog_rate_limits
from focusbase.observability import record_rate_limited
from focusbase.storage import ratelimits as store
from focusbase.storage.catalog import Catalog
from focusbase.tenancy.principal import Principal

LimitClass = Literal["read", "ingest"]
LIMIT_CLASSES: tuple[LimitClass, ...] = ("read", "ingest")
_MAX_BUCKETS = 10_000  # beyond this, idle (full) buckets are forgotten


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request against its bucket."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the bucket is full again
    retry_after: int  # until one more request is allowed (0 when allowed)

    def headers(self) -> dict[str, str]:
        """The RateLimit headers of this decision."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }

    @classmethod
    def of(cls, capacity: int, tokens: float, allowed: bool) -> Decision:
        """The decision for a bucket of `capacity` a minute left with `tokens` after this request."""
        rate = capacity / 60.0
        return cls(
            allowed=allowed,
            limit=capacity,
            remaining=int(tokens),
            reset_seconds=math.ceil((capacity - tokens) / rate),
            retry_after=0 if allowed else max(1, math.ceil((1.0 - tokens) / rate)),
        )


class Limiter(Protocol):
    """What the rate_limit dependency needs of a limiter."""

    def hit(self, limit_class: str, identity: str) -> Decision | None: ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets holding `per_minute` requests each, refilled continuously at per_minute / 60 a second."""

    def __init__(self, per_minute: dict[str, int], clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = dict(per_minute)
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """Limits from FOCUSBASE_RATE_LIMIT_READ_PER_MINUTE and FOCUSBASE_RATE_LIMIT_INGEST_PER_MINUTE."""
        return cls(
            {"read": settings.rate_limit_read_per_minute, "ingest": settings.rate_limit_ingest_per_minute}
        )

    def hit(self, limit_class: str, identity: str) -> Decision | None:
        """Take one request from the bucket; None when this class is unlimited (a limit of 0 or less)."""
        capacity = self.per_minute.get(limit_class, 0)
        if capacity <= 0:
            return None
        rate = capacity / 60.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get((limit_class, identity))
            if bucket is None:
                if len(self._buckets) >= _MAX_BUCKETS:
                    self._forget_idle(now)
                bucket = self._buckets[(limit_class, identity)] = _Bucket(float(capacity), now)
            else:
                bucket.tokens = min(float(capacity), bucket.tokens + (now - bucket.updated) * rate)
                bucket.updated = now
            allowed = bucket.tokens >= 1.0
            if allowed:
                bucket.tokens -= 1.0
            tokens = bucket.tokens
        return Decision.of(capacity, tokens, allowed)

    def _forget_idle(self, now: float) -> None:
        for key, bucket in list(self._buckets.items()):
            capacity = self.per_minute.get(key[0], 0)
            if capacity <= 0 or bucket.tokens + (now - bucket.updated) * capacity / 60.0 >= capacity:
                del self._buckets[key]


class CatalogRateLimiter:
    """The same buckets kept in a PostgreSQL catalog: every replica sharing the catalog shares them."""

    def __init__(
        self,
        per_minute: dict[str, int],
        catalog: Catalog,
        prune_every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = dict(per_minute)
        self.catalog = catalog
        self._prune_every = prune_every
        self._clock = clock
        self._next_prune = clock()
        self._prune_lock = threading.Lock()

    def hit(self, limit_class: str, identity: str) -> Decision | None:
        """Take one request from the shared bucket; None when this class is unlimited."""
        capacity = self.per_minute.get(limit_class, 0)
        if capacity <= 0:
            return None
        self._maybe_prune()
        taken = store.take_token(self.catalog, limit_class, identity, capacity)
        return Decision.of(capacity, taken.tokens, taken.allowed)

    def _maybe_prune(self) -> None:
        # Idle buckets are full, so forgetting them is invisible; this bounds the table by the keys and
        # addresses seen in the last minute. One replica's prune is enough, any of them may do it.
        now = self._clock()
        if now < self._next_prune or not self._prune_lock.acquire(blocking=False):
            return
        try:
            self._next_prune = now + self._prune_every
            store.prune_idle(self.catalog)
        finally:
            self._prune_lock.release()


def limiter_for(settings: Settings, catalog: Catalog) -> Limiter:
    """The limiter the settings choose for a server on this catalog."""
    limiter = RateLimiter.from_settings(settings)
    if not uses_catalog_rate_limits(settings):
        return limiter
    return CatalogRateLimiter(limiter.per_minute, catalog)


def _identity(request: Request) -> str:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        try:
            principal = principal_of(request, get_runtime(request))
        except ApiError:
            principal = None  # counted by address; the route's authentication answers 401
        else:
            request.state.principal = principal
    if principal is not None:
        return f"key:{principal.key_id}"
    return f"addr:{request.client.host if request.client else 'unknown'}"


# Every rate-limit dependency made by rate_limit(): the OpenAPI document gives their routes a 429.
RATE_LIMITED: set[Callable[[Request], None]] = set()


def is_rate_limit(dependency: object) -> bool:
    """Whether a route dependency is one of rate_limit()'s."""
    return dependency in RATE_LIMITED


def rate_limit(limit_class: LimitClass) -> Callable[[Request], None]:
    """A dependency that counts the request against its key's `limit_class` bucket; 429 when it is empty."""
    if limit_class not in LIMIT_CLASSES:
        raise ValueError(f"limit class must be one of {', '.join(LIMIT_CLASSES)}; got {limit_class!r}")

    def dependency(request: Request) -> None:
        """Count the request against the key's bucket."""
        limiter: Limiter = request.app.state.rate_limiter
        decision = limiter.hit(limit_class, _identity(request))
        if decision is None:
            return
        headers = decision.headers()
        request.state.rate_limit_headers = headers
        if not decision.allowed:
            record_rate_limited(limit_class)
            raise ApiError(
                429,
                "rate_limited",
                f"rate limit exceeded: {decision.limit} {limit_class} requests per minute for this key;"
                f" retry in {decision.retry_after} s",
                headers={**headers, "Retry-After": str(decision.retry_after)},
            )

    RATE_LIMITED.add(dependency)
    return dependency
