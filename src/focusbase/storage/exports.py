"""SQL for export jobs: the job records in the catalog and the streaming COPY out of the warehouse."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from focusbase.query.filters import CostFilters, Scope
from focusbase.storage.catalog import Catalog, utcnow
from focusbase.storage.query import cost_where, quote, scope_where
from focusbase.storage.warehouse import Warehouse

PENDING, PROCESSING, COMPLETE, FAILED = "Pending", "Processing", "Complete", "Failed"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# ---------------------------------------------------------------------------------------------- catalog


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One export job as stored in the catalog."""

    id: str
    workspace_id: str
    key_id: str | None
    provider_ids: str | None  # JSON array or None
    request: str  # JSON
    status: str
    attempts: int
    total_rows: int | None
    rows_written: int
    record_count: int | None
    record_counts: str | None  # JSON: dataset -> rows
    file_name: str | None
    file_size: int | None
    error: str | None
    created_at: str
    started_at: str | None
    completed_at: str | None
    expires_at: str | None
    expired_at: str | None


_COLUMNS = ", ".join(JobRecord.__slots__)


def _record(row: Any) -> JobRecord:
    return JobRecord(**{name: row[name] for name in JobRecord.__slots__})


def insert_job(
    catalog: Catalog,
    *,
    job_id: str,
    workspace_id: str,
    key_id: str | None,
    provider_ids: str | None,
    request: str,
) -> JobRecord:
    """Record a new Pending job."""
    with catalog.transaction() as tx:
        tx.execute(
            "INSERT INTO export_jobs (id, workspace_id, key_id, provider_ids, request, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (job_id, workspace_id, key_id, provider_ids, request, PENDING, utcnow()),
        )
    job = get_job(catalog, job_id)
    assert job is not None
    return job


def get_job(catalog: Catalog, job_id: str, workspace_id: str | None = None) -> JobRecord | None:
    """One job; None when it does not exist (or belongs to another workspace, when one is given)."""
    with catalog.read() as conn:
        if workspace_id is None:
            row = conn.execute(f"SELECT {_COLUMNS} FROM export_jobs WHERE id = ?", (job_id,)).fetchone()  # noqa: S608
        else:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM export_jobs WHERE id = ? AND workspace_id = ?",  # noqa: S608
                (job_id, workspace_id),
            ).fetchone()
    return _record(row) if row is not None else None


def pending_job_ids(catalog: Catalog, limit: int) -> list[str]:
    """Oldest Pending jobs first."""
    with catalog.read() as conn:
        rows = conn.execute(
            "SELECT id FROM export_jobs WHERE status = ? ORDER BY created_at, id LIMIT ?", (PENDING, limit)
        ).fetchall()
    return [row[0] for row in rows]


def claim_job(catalog: Catalog, job_id: str) -> bool:
    """Move a Pending job to Processing; False when another worker got it first or it is not Pending."""
    with catalog.transaction() as tx:
        cur = tx.execute(
            "UPDATE export_jobs SET status = ?, attempts = attempts + 1, started_at = ?, rows_written = 0,"
            " total_rows = NULL, error = NULL WHERE id = ? AND status = ?",
            (PROCESSING, utcnow(), job_id, PENDING),
        )
        return cur.rowcount == 1


def set_progress(catalog: Catalog, job_id: str, *, rows_written: int, total_rows: int | None) -> None:
    """Record how far a Processing job has got."""
    with catalog.transaction() as tx:
        tx.execute(
            "UPDATE export_jobs SET rows_written = ?, total_rows = COALESCE(?, total_rows)"
            " WHERE id = ? AND status = ?",
            (rows_written, total_rows, job_id, PROCESSING),
        )


def complete_job(
    catalog: Catalog,
    job_id: str,
    *,
    record_counts: dict[str, int],
    file_name: str,
    file_size: int,
    expires_at: str,
) -> None:
    """Processing -> Complete, with the file's facts."""
    total = sum(record_counts.values())
    with catalog.transaction() as tx:
        tx.execute(
            "UPDATE export_jobs SET status = ?, record_count = ?, record_counts = ?, rows_written = ?,"
            " file_name = ?, file_size = ?, completed_at = ?, expires_at = ?, error = NULL WHERE id = ?",
            (
                COMPLETE,
                total,
                json.dumps(record_counts),
                total,
                file_name,
                file_size,
                utcnow(),
                expires_at,
                job_id,
            ),
        )


def fail_job(catalog: Catalog, job_id: str, error: str) -> None:
    """Any state -> Failed, with the reason."""
    with catalog.transaction() as tx:
        tx.execute(
            "UPDATE export_jobs SET status = ?, error = ?, completed_at = ? WHERE id = ?",
            (FAILED, error, utcnow(), job_id),
        )


def requeue_job(catalog: Catalog, job_id: str, reason: str) -> None:
    """Processing -> Pending (the job runs again from the start), remembering why."""
    with catalog.transaction() as tx:
        tx.execute(
            "UPDATE export_jobs SET status = ?, error = ?, rows_written = 0 WHERE id = ? AND status = ?",
            (PENDING, reason, job_id, PROCESSING),
        )


def interrupted_jobs(catalog: Catalog) -> list[JobRecord]:
    """Jobs left Processing by a process that stopped without finishing them."""
    with catalog.read() as conn:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM export_jobs WHERE status = ?", (PROCESSING,)).fetchall()  # noqa: S608
    return [_record(row) for row in rows]


def due_for_expiry(catalog: Catalog, now: str) -> list[JobRecord]:
    """Complete jobs whose files have outlived their retention and are not yet deleted."""
    with catalog.read() as conn:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM export_jobs WHERE status = ? AND expired_at IS NULL"  # noqa: S608
            " AND expires_at IS NOT NULL AND expires_at <= ?",
            (COMPLETE, now),
        ).fetchall()
    return [_record(row) for row in rows]


def mark_expired(catalog: Catalog, job_id: str) -> None:
    """Record that a job's file has been deleted."""
    with catalog.transaction() as tx:
        tx.execute("UPDATE export_jobs SET expired_at = ? WHERE id = ?", (utcnow(), job_id))


# -------------------------------------------------------------------------------------------- warehouse


@dataclass(frozen=True, slots=True)
class CopyColumn:
    """An output column: FOCUS name, stored source and FOCUS data type (or 'Custom' for x_ keys)."""

    name: str
    source: str
    data_type: str


def _select_item(col: CopyColumn, fmt: str, params: list[object], custom: list[str]) -> str:
    if col.data_type == "Custom":
        # Every custom column comes from one extraction of all the keys (CUSTOM_VALUES): a JSON path per
        # column would parse each row's object once per column, with engine memory growing per column.
        custom.append("$." + json.dumps(col.source))
        return f"{CUSTOM_VALUES}[{len(custom)}] AS {quote(col.name)}"
    if col.data_type == "CustomAll":
        return f"CAST(x_columns AS VARCHAR) AS {quote(col.name)}"
    source = quote(col.source)
    if col.data_type == "Date/Time" and fmt == "parquet":
        # Parquet carries the instant as a UTC-adjusted timestamp; the warehouse stores naive UTC.
        return f"timezone('UTC', {source}) AS {quote(col.name)}"
    if col.data_type == "JSON" and fmt == "parquet":
        return f"CAST({source} AS VARCHAR) AS {quote(col.name)}"
    return f"{source} AS {quote(col.name)}"


CUSTOM_VALUES = "__custom_values"


def _copy_options(fmt: str, compression: str | None) -> str:
    if fmt == "parquet":
        return "FORMAT parquet"
    codec = "gzip" if compression == "gzip" else "none"
    kind = "csv, HEADER true" if fmt == "csv" else "json"
    return f"FORMAT {kind}, TIMESTAMPFORMAT '{TIMESTAMP_FORMAT}', COMPRESSION {codec}"


def cost_custom_keys(warehouse: Warehouse, filters: CostFilters) -> list[str]:
    """The union of custom x_ column names over the rows the filters select."""
    where, params = cost_where(filters)
    with warehouse.cursor() as cur:
        rows = cur.execute(
            "SELECT DISTINCT unnest(json_keys(x_columns)) FROM live_cost_rows"  # noqa: S608
            f" WHERE x_columns IS NOT NULL AND {where}",
            params,
        ).fetchall()
    return sorted(str(row[0]) for row in rows)


def commitment_custom_keys(warehouse: Warehouse, scope: Scope, start: datetime, end: datetime) -> list[str]:
    """The union of custom x_ column names over the contract commitments an export includes."""
    where, params = _commitment_where(scope, start, end)
    with warehouse.cursor() as cur:
        rows = cur.execute(
            "SELECT DISTINCT unnest(json_keys(x_columns)) FROM live_contract_commitment_rows"  # noqa: S608
            f" WHERE x_columns IS NOT NULL AND {where}",
            params,
        ).fetchall()
    return sorted(str(row[0]) for row in rows)


def _commitment_where(scope: Scope, start: datetime, end: datetime) -> tuple[str, list[object]]:
    # Commitments whose period overlaps the export window (an open end counts as overlapping).
    where, params = scope_where(scope)
    where += (
        ' AND ("ContractCommitmentPeriodStart" IS NULL OR "ContractCommitmentPeriodStart" < ?)'
        ' AND ("ContractCommitmentPeriodEnd" IS NULL OR "ContractCommitmentPeriodEnd" > ?)'
    )
    return where, [*params, end, start]


@dataclass(frozen=True, slots=True)
class CopySource:
    """Which live rows to export: the view, a WHERE body and its parameters."""

    view: str
    where: str
    params: list[object]

    @classmethod
    def cost(cls, filters: CostFilters) -> CopySource:
        where, params = cost_where(filters)
        return cls("live_cost_rows", where, params)

    @classmethod
    def commitments(cls, scope: Scope, start: datetime, end: datetime) -> CopySource:
        where, params = _commitment_where(scope, start, end)
        return cls("live_contract_commitment_rows", where, params)


class CopyHandle:
    """Lets another thread interrupt a running COPY (shutdown) and read its progress."""

    def __init__(self) -> None:
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self.interrupted = False

    def _attach(self, cursor: duckdb.DuckDBPyConnection | None) -> None:
        with self._lock:
            self._cursor = cursor
        self.check()

    def check(self) -> None:
        """Raise duckdb.InterruptException when interrupted (an idle cursor ignores interrupt())."""
        if self.interrupted:
            raise duckdb.InterruptException("the export was interrupted by a server shutdown")

    def interrupt(self) -> None:
        """Stop the running statement, if any; the job's thread then sees duckdb.InterruptException."""
        with self._lock:
            self.interrupted = True
            if self._cursor is not None:
                self._cursor.interrupt()


def copy_rows(
    warehouse: Warehouse,
    source: CopySource,
    columns: Sequence[CopyColumn],
    *,
    fmt: str,
    compression: str | None,
    target: Path,
    on_progress: Callable[[int, int], None] | None = None,
    handle: CopyHandle | None = None,
    progress_interval: float = 0.5,
) -> int:
    """Stream the selected rows into `target` with DuckDB COPY; returns the rows written.

    The count and the COPY run in one read transaction, so progress totals and the file agree even while
    ingest commits new data.
    """
    params: list[object] = []
    custom: list[str] = []
    select = ", ".join(_select_item(col, fmt, params, custom) for col in columns)
    rows = f"SELECT * FROM {source.view} WHERE {source.where}"  # noqa: S608 - names from our catalogue
    if custom:
        params.append(custom)
        rows = f"SELECT *, json_extract_string(x_columns, ?::VARCHAR[]) AS {CUSTOM_VALUES} FROM ({rows})"  # noqa: S608
    sql = f"COPY (SELECT {select} FROM ({rows})) TO ? ({_copy_options(fmt, compression)})"  # noqa: S608
    with warehouse.cursor() as cur:
        cur.execute("SET enable_progress_bar_print = false")
        cur.execute("SET enable_progress_bar = true")
        if handle is not None:
            handle._attach(cur)
        try:
            cur.execute("BEGIN TRANSACTION")
            try:
                row = cur.execute(
                    f"SELECT count(*) FROM {source.view} WHERE {source.where}",  # noqa: S608
                    source.params,
                ).fetchone()
                total = int(row[0]) if row else 0
                if on_progress is not None:
                    on_progress(0, total)
                done = threading.Event()
                watcher = None
                if on_progress is not None and total > 0:
                    watcher = threading.Thread(
                        target=_watch_progress,
                        args=(cur, total, on_progress, done, progress_interval),
                        name="export-progress",
                        daemon=True,
                    )
                    watcher.start()
                try:
                    if handle is not None:
                        handle.check()
                    result = cur.execute(sql, [*params, *source.params, str(target)]).fetchone()
                finally:
                    done.set()
                    if watcher is not None:
                        watcher.join()
                cur.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    cur.execute("ROLLBACK")
                raise
        finally:
            if handle is not None:
                with handle._lock:
                    handle._cursor = None
    written = int(result[0]) if result else 0
    if on_progress is not None:
        on_progress(written, total)
    return written


def _watch_progress(
    cur: duckdb.DuckDBPyConnection,
    total: int,
    on_progress: Callable[[int, int], None],
    done: threading.Event,
    interval: float,
) -> None:
    while not done.wait(interval):
        try:
            percent = cur.query_progress()
        except duckdb.Error:
            continue
        if percent >= 0:
            on_progress(min(total, int(total * percent / 100)), total)
