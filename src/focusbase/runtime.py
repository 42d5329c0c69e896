"""The running server's shared state: settings, catalog, warehouse and background workers."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from focusbase.config import Settings
from focusbase.leadership import Leadership
from focusbase.storage import Catalog, Warehouse, open_catalog
from focusbase.storage.datadir import secure_data_dir
from focusbase.storage.explorer_reads import DuckDBExplorerReads, ExplorerReads
from focusbase.storage.export_rows import DuckDBExportRows, ExportRows
from focusbase.storage.fx_rates import DuckDBFxRates, FxRates
from focusbase.storage.ingest_store import DuckDBIngestStore, IngestStore
from focusbase.storage.insight_reads import DuckDBInsightReads, InsightReads
from focusbase.storage.served import DuckDBServedRecords, ServedRecords
from focusbase.storage.spend_series import DuckDBSpendSeries, SpendSeries

# Modules that take part in the server lifecycle. Each may define:
#   async def on_startup(runtime) -> None   (recovery, starting workers; runs in this order)
#   async def on_shutdown(runtime) -> None
LIFECYCLE_MODULES: tuple[str, ...] = (
    "focusbase.tenancy.lifecycle",
    "focusbase.ingest.lifecycle",
    "focusbase.export.lifecycle",
    "focusbase.notify.lifecycle",
    "focusbase.budgets.lifecycle",
    "focusbase.analytics.lifecycle",
)

Hook = Callable[["Runtime"], Awaitable[None]]


class WarehouseUnusable(ValueError):
    """FOCUSBASE_WAREHOUSE_URL is set without what the ClickHouse warehouse needs."""


@dataclass
class Runtime:
    """Everything a request handler or background worker needs, opened once per process."""

    settings: Settings
    catalog: Catalog
    warehouse: Warehouse
    # Whether this process runs the deployment's periodic sweeps (always, on the embedded catalog).
    leadership: Leadership
    # The FOCUS API's record reads (storage/served.py), on the warehouse above.
    served: ServedRecords
    # The rows export jobs copy into their files (storage/export_rows.py), on the warehouse above.
    exports: ExportRows
    # The Data Explorer's reads (storage/explorer_reads.py), on the warehouse above.
    explorer: ExplorerReads
    # Batches (the History) and the writes of their rows (storage/ingest_store.py).
    ingest: IngestStore
    # Savings, dashboard, cost-totals and row-count reads (storage/insight_reads.py), on the warehouse above.
    insights: InsightReads
    # The daily spend series of anomalies, forecasts and budgets (storage/spend_series.py), on the warehouse
    # above.
    series: SpendSeries
    # The workspaces' currency conversion rates (storage/fx_rates.py), on the warehouse above.
    fx: FxRates
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # What else `stop` closes (the scale-out warehouse's client).
    closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        secure_data_dir(settings.data_dir)
        catalog = open_catalog(settings)
        if settings.warehouse_url:
            return cls._scale_out(settings, catalog, settings.warehouse_url)
        warehouse = Warehouse.in_dir(
            settings.data_dir,
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
            checkpoint_threshold=settings.duckdb_checkpoint_threshold,
        )
        leadership = Leadership(catalog, settings.leader_lease_seconds)
        return cls(
            settings=settings,
            catalog=catalog,
            warehouse=warehouse,
            leadership=leadership,
            served=DuckDBServedRecords(warehouse),
            exports=DuckDBExportRows(warehouse),
            explorer=DuckDBExplorerReads(warehouse),
            ingest=DuckDBIngestStore(warehouse),
            insights=DuckDBInsightReads(warehouse),
            series=DuckDBSpendSeries(warehouse),
            fx=DuckDBFxRates(warehouse),
        )

    @classmethod
    def _scale_out(cls, settings: Settings, catalog: Catalog, url: str) -> Runtime:
        """The ClickHouse warehouse (FOCUSBASE_WAREHOUSE_URL) behind a PostgreSQL catalog."""
        # Imported here: clickhouse-connect and psycopg are the optional [scale] extra.
        from focusbase.storage.clickhouse import ClickHouseWarehouse
        from focusbase.storage.clickhouse_client import open_client
        from focusbase.storage.clickhouse_ingest import ClickHouseIngestStore
        from focusbase.storage.postgres import PostgresCatalog

        if not isinstance(catalog, PostgresCatalog):
            catalog.close()
            raise WarehouseUnusable(
                "FOCUSBASE_WAREHOUSE_URL needs a PostgreSQL catalog (FOCUSBASE_CATALOG_URL): batches and the"
                " writer locks of the ClickHouse warehouse live there"
            )
        try:
            warehouse = ClickHouseWarehouse(open_client(url), catalog)
        except BaseException:
            catalog.close()
            raise
        # An empty in-memory DuckDB of the embedded schema: ingest casts rows with its SQL before ClickHouse
        # stores them, and the checks of a part run there, so both warehouses take the same values.
        scratch = Warehouse(
            Path(":memory:"), memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
        )
        leadership = Leadership(catalog, settings.leader_lease_seconds)
        ingest = ClickHouseIngestStore(catalog, warehouse, scratch)
        return cls(
            settings=settings,
            catalog=catalog,
            warehouse=scratch,
            leadership=leadership,
            served=warehouse,
            exports=warehouse,
            explorer=warehouse,
            ingest=ingest,
            insights=warehouse,
            series=warehouse,
            fx=warehouse,
            closers=[ingest.close, warehouse.close],
        )

    def _hooks(self, name: str) -> list[Hook]:
        hooks = []
        for module_name in LIFECYCLE_MODULES:
            module = importlib.import_module(module_name)
            hook = getattr(module, name, None)
            if hook is not None:
                hooks.append(hook)
        return hooks

    async def start(self) -> None:
        # Leadership first, so the workers' first sweeps know whether they are theirs.
        await asyncio.to_thread(self.leadership.renew)
        self.tasks.append(asyncio.create_task(self.leadership.loop(), name="leader lease"))
        for hook in self._hooks("on_startup"):
            await hook(self)

    async def stop(self) -> None:
        for hook in reversed(self._hooks("on_shutdown")):
            await hook(self)
        await asyncio.to_thread(self.leadership.release)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            # Shutting down: a task's own errors were logged where they happened.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        self.close()

    def close(self) -> None:
        """Close the stores (what `stop` ends with; a command that opened a runtime without serving)."""
        for close in self.closers:
            close()
        self.warehouse.close()
        self.catalog.close()
