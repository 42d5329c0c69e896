"""Storage: the only place with SQL. Catalog (SQLite) and warehouse (DuckDB), numbered migrations."""

from focusbase.storage.catalog import Catalog
from focusbase.storage.warehouse import DataDirLocked, Warehouse

__all__ = ["Catalog", "DataDirLocked", "Warehouse"]
