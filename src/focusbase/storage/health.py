"""Readiness probes (each database answers a real query) and the figures /metrics reads from storage."""

from __future__ import annotations

from focusbase.storage.catalog import Catalog
from focusbase.storage.warehouse import Warehouse


def ping_catalog(catalog: Catalog) -> None:
    """Raise unless the catalog answers a query on its migrated tables."""
    with catalog.read() as conn:
        conn.execute("SELECT count(*) FROM workspaces").fetchone()


def ping_warehouse(warehouse: Warehouse) -> None:
    """Raise unless the warehouse answers a query on its migrated tables."""
    with warehouse.cursor() as cur:
        cur.execute("SELECT count(*) FROM schema_migrations").fetchone()


def batch_status_counts(warehouse: Warehouse) -> dict[str, int]:
    """Batches in the warehouse per current status."""
    with warehouse.cursor() as cur:
        rows = cur.execute("SELECT status, count(*) FROM batches GROUP BY status").fetchall()
    return {str(status): int(count) for status, count in rows}
