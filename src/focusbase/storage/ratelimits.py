"""SQL for rate-limit buckets kept in a PostgreSQL catalog, so every API replica draws on one budget per key.

One statement per request: an upsert that refills the bucket by the time since its last request, takes a
token when there is one and answers what is left. PostgreSQL runs it under the row's lock, so two replicas
hitting one key at once are applied one after the other. Times are the database's clock, so replicas need
not agree on theirs. The statements are PostgreSQL's (the embedded profile keeps its buckets in memory).
"""

from __future__ import annotations

from dataclasses import dataclass

from focusbase.storage.catalog import Catalog

# The bucket refilled up to now (its ? are the capacity and the refill rate per second), then one token taken
# when there is one. Times are seconds since the epoch on the database's clock.
_TAKE = """
INSERT INTO rate_limit_buckets AS b (limit_class, identity, tokens, updated_at, allowed)
VALUES (?, ?, ? - 1, extract(epoch FROM clock_timestamp())::double precision, 1)
ON CONFLICT (limit_class, identity) DO UPDATE SET
    allowed = CASE WHEN least(?, b.tokens + greatest(0, excluded.updated_at - b.updated_at) * ?) >= 1
        THEN 1 ELSE 0 END,
    tokens = least(?, b.tokens + greatest(0, excluded.updated_at - b.updated_at) * ?)
        - CASE WHEN least(?, b.tokens + greatest(0, excluded.updated_at - b.updated_at) * ?) >= 1
            THEN 1 ELSE 0 END,
    updated_at = greatest(b.updated_at, excluded.updated_at)
RETURNING tokens, allowed
"""
_PRUNE = """
DELETE FROM rate_limit_buckets WHERE updated_at < extract(epoch FROM clock_timestamp())::double precision - ?
"""
# Every bucket refills completely within a minute (limits are per minute), so one idle that long is full:
# forgetting it changes nothing.
IDLE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Taken:
    """A request counted against its bucket: whether it was allowed, and the tokens left after it."""

    allowed: bool
    tokens: float


def take_token(catalog: Catalog, limit_class: str, identity: str, capacity: int) -> Taken:
    """Count one request against the (class, identity) bucket of `capacity` requests a minute."""
    rate = capacity / 60.0
    refill = (capacity, rate)
    # One statement in autocommit is its own transaction; it needs no catalog-wide writer lock.
    with catalog.read() as conn:
        row = conn.execute(_TAKE, (limit_class, identity, capacity, *refill, *refill, *refill)).fetchone()
    return Taken(allowed=bool(row[1]), tokens=float(row[0]))


def prune_idle(catalog: Catalog) -> int:
    """Forget buckets idle for a minute or more (they are full); returns how many went."""
    with catalog.read() as conn:
        cur = conn.execute(_PRUNE, (IDLE_SECONDS,))
    return cur.rowcount
