"""Storage: the only place with SQL. Catalog (SQLite or PostgreSQL), warehouse (DuckDB), migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from focusbase.storage.catalog import Catalog
from focusbase.storage.warehouse import DataDirLocked, Warehouse

if TYPE_CHECKING:
    from focusbase.config import Settings

__all__ = ["Catalog", "DataDirLocked", "Warehouse", "open_catalog"]


def open_catalog(settings: Settings) -> Catalog:
    """The configured catalog: PostgreSQL when FOCUSBASE_CATALOG_URL is set, else SQLite in the data dir."""
    if settings.catalog_url:
        # Imported here: psycopg is the optional [scale] extra, and the embedded profile never needs it.
        from focusbase.storage.postgres import PostgresCatalog

        return PostgresCatalog(settings.catalog_url, pool_size=settings.catalog_pool_size)
    return Catalog.in_dir(settings.data_dir)
