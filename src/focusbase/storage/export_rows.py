"""What an export job needs from the warehouse, on whichever warehouse holds the rows.

`ExportRows` is what the export service (export/service.py) needs: the custom x_ keys of the rows an export
member selects, and the streaming copy of those rows into a file (CSV with a header, JSON lines or Parquet,
optionally gzip) with progress and an interrupt. `DuckDBExportRows` answers from the embedded warehouse
(storage/exports.py: one COPY in one snapshot); the ClickHouse warehouse writes the same files for the same
live rows (storage/clickhouse_exports.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from focusbase.focus import Dataset
from focusbase.query.filters import CostFilters, Scope
from focusbase.storage import exports as store
from focusbase.storage.exports import CopyColumn, CopyHandle
from focusbase.storage.warehouse import Warehouse

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ExportSource:
    """Which live rows one member of an export holds: Cost and Usage rows matching `filters`, or the Contract
    Commitments of `scope` whose period overlaps [start, end) (an open end counts as overlapping)."""

    dataset: Dataset
    scope: Scope
    filters: CostFilters | None = None
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def cost(cls, filters: CostFilters) -> ExportSource:
        return cls(Dataset.COST_AND_USAGE, filters.scope, filters=filters)

    @classmethod
    def commitments(cls, scope: Scope, start: datetime, end: datetime) -> ExportSource:
        return cls(Dataset.CONTRACT_COMMITMENT, scope, start=start, end=end)

    def window(self) -> tuple[datetime, datetime]:
        """The commitments' window (a Contract Commitment source only)."""
        if self.start is None or self.end is None:
            raise ValueError("a Cost and Usage source has no commitment window")
        return self.start, self.end

    def cost_filters(self) -> CostFilters:
        """The filters (a Cost and Usage source only)."""
        if self.filters is None:
            raise ValueError("a Contract Commitment source has no cost filters")
        return self.filters


class ExportRows(Protocol):
    """The custom keys of an export's rows and the copy of those rows into a file.

    `copy_rows` writes `target` with `columns` in order (FOCUS columns, x_ columns per key, the CustomAll
    column) and returns the rows written; `on_progress(rows, total)` starts at (0, total) and ends at
    (written, total). An interrupted or lost `handle` stops it with duckdb.InterruptException (CopyHandle).
    """

    def custom_keys(self, source: ExportSource) -> list[str]:
        """The union of custom x_ column names over the rows `source` selects, sorted."""
        ...

    def copy_rows(
        self,
        source: ExportSource,
        columns: Sequence[CopyColumn],
        *,
        fmt: str,
        compression: str | None,
        target: Path,
        on_progress: Progress | None = None,
        handle: CopyHandle | None = None,
    ) -> int: ...


class DuckDBExportRows:
    """The embedded warehouse's copy: DuckDB COPY of the live rows, count and copy in one snapshot."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def custom_keys(self, source: ExportSource) -> list[str]:
        if source.dataset is Dataset.COST_AND_USAGE:
            return store.cost_custom_keys(self.warehouse, source.cost_filters())
        return store.commitment_custom_keys(self.warehouse, source.scope, *source.window())

    def copy_rows(
        self,
        source: ExportSource,
        columns: Sequence[CopyColumn],
        *,
        fmt: str,
        compression: str | None,
        target: Path,
        on_progress: Progress | None = None,
        handle: CopyHandle | None = None,
    ) -> int:
        if source.dataset is Dataset.COST_AND_USAGE:
            copy_source = store.CopySource.cost(source.cost_filters())
        else:
            copy_source = store.CopySource.commitments(source.scope, *source.window())
        return store.copy_rows(
            self.warehouse,
            copy_source,
            columns,
            fmt=fmt,
            compression=compression,
            target=target,
            on_progress=on_progress,
            handle=handle,
        )
