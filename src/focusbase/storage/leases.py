"""SQL for leader leases in a PostgreSQL catalog: which process of a deployment runs the periodic sweeps.

A lease row names its holder and when it runs out, on the database's clock (so replicas need not agree on
theirs). Taking or renewing it is one upsert that succeeds only for the holder or once the lease has run out,
so two processes never both hold it. The embedded profile has one process, which always leads.
"""

from __future__ import annotations

from focusbase.storage.catalog import Catalog

_TAKE = """
INSERT INTO leader_leases AS l (name, holder, expires_at)
VALUES (?, ?, extract(epoch FROM clock_timestamp())::double precision + ?)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE l.holder = excluded.holder OR l.expires_at < extract(epoch FROM clock_timestamp())::double precision
RETURNING holder
"""


def take_or_renew(catalog: Catalog, name: str, holder: str, seconds: float) -> bool:
    """Hold the lease `name` for `seconds` from now; False when another holder's lease is still running."""
    # One statement in autocommit is its own transaction, ordered by the row's lock.
    with catalog.read() as conn:
        return conn.execute(_TAKE, (name, holder, seconds)).fetchone() is not None


def release(catalog: Catalog, name: str, holder: str) -> None:
    """Give the lease up (a clean shutdown), so another process takes it at its next try."""
    with catalog.read() as conn:
        conn.execute("DELETE FROM leader_leases WHERE name = ? AND holder = ?", (name, holder))


def holder_of(catalog: Catalog, name: str) -> str | None:
    """Who holds the lease now, if its time has not run out."""
    with catalog.read() as conn:
        row = conn.execute(
            "SELECT holder FROM leader_leases WHERE name = ?"
            " AND expires_at >= extract(epoch FROM clock_timestamp())::double precision",
            (name,),
        ).fetchone()
    return None if row is None else str(row[0])
