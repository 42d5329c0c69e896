"""Readiness probes: each database answers a real query."""

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
