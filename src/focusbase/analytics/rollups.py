"""The daily rollup behind the explorer: a deterministic rebuild from the live rows, on demand."""

from __future__ import annotations

from focusbase.storage import Warehouse
from focusbase.storage import rollups as store


def rebuild_rollups(warehouse: Warehouse) -> int:
    """Recompute the whole rollup from live_cost_rows in one transaction; returns its row count."""
    with warehouse.transaction() as cur:
        return store.rebuild(cur)
