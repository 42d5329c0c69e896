"""SQL for export jobs: the job records in the catalog and the streaming COPY out of the warehouse.

A runner claims a Pending job atomically (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so runners of several
replicas never wait on each other's claims; SQLite: its one writer at a time) under a lease it renews while
the job runs. Every later write of the run names its claimant, so a runner whose claim was taken over after
its lease ran out changes nothing.
"""

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
    claimed_by: str | None = None  # the runner running it, while Processing
    lease_expires_at: str | None = None  # its claim, renewed while it runs


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


_CLAIM = (
    "UPDATE export_jobs SET status = ?, attempts = attempts + 1, started_at = ?, rows_written = 0,"
    " total_rows = NULL, error = NULL, claimed_by = ?, lease_expires_at = ?"
)
# The next Pending job, locked; another runner's claim in flight is skipped instead of waited for.
_NEXT_PENDING = {
    "sqlite": "SELECT id FROM export_jobs WHERE status = ? ORDER BY created_at, id LIMIT 1",
    "postgresql": "SELECT id FROM export_jobs WHERE status = ? ORDER BY created_at, id LIMIT 1"
    " FOR UPDATE SKIP LOCKED",
}
# A claim is the caller's when it names the caller, or when the caller names no claimant (a single process
# driving one job, as tests and the claim of one job by id do).
_MINE = "(? IS NULL OR claimed_by = ?)"


def claim_job(
    catalog: Catalog, job_id: str, claimant: str | None = None, lease_until: str | None = None
) -> bool:
    """Move a Pending job to Processing; False when another worker got it first or it is not Pending."""
    with catalog.transaction() as tx:
        cur = tx.execute(
            f"{_CLAIM} WHERE id = ? AND status = ?",
            (PROCESSING, utcnow(), claimant, lease_until, job_id, PENDING),
        )
        return cur.rowcount == 1


def claim_next_job(catalog: Catalog, claimant: str, lease_until: str) -> JobRecord | None:
    """Claim the oldest Pending job for `claimant` until `lease_until`; None when there is none.

    One statement: two runners, in one process or in two replicas, never claim the same job.
    """
    sql = f"{_CLAIM} WHERE id = ({_NEXT_PENDING[catalog.dialect]}) AND status = ? RETURNING {_COLUMNS}"
    params = (PROCESSING, utcnow(), claimant, lease_until, PENDING, PENDING)
    if catalog.dialect == "sqlite":
        with catalog.transaction() as tx:
            row = tx.execute(sql, params).fetchone()
    else:
        # One statement is its own transaction, ordered by row locks: it needs no catalog-wide writer lock,
        # so the runners of every replica poll without queueing behind the API's writes.
        with catalog.read() as conn:
            row = conn.execute(sql, params).fetchone()
    return _record(row) if row is not None else None


def renew_lease(catalog: Catalog, job_id: str, claimant: str, lease_until: str) -> bool:
    """Extend a running job's claim; False when the job is no longer this claimant's (taken over, or done)."""
    with catalog.transaction() as tx:
        cur = tx.execute(
            "UPDATE export_jobs SET lease_expires_at = ? WHERE id = ? AND status = ? AND claimed_by = ?",
            (lease_until, job_id, PROCESSING, claimant),
        )
        return cur.rowcount == 1


def set_progress(
    catalog: Catalog,
    job_id: str,
    *,
    rows_written: int,
    total_rows: int | None,
    claimant: str | None = None,
) -> None:
    """Record how far a Processing job has got."""
    with catalog.transaction() as tx:
        tx.execute(
            "UPDATE export_jobs SET rows_written = ?, total_rows = COALESCE(?, total_rows)"  # noqa: S608
            f" WHERE id = ? AND status = ? AND {_MINE}",
            (rows_written, total_rows, job_id, PROCESSING, claimant, claimant),
        )


def complete_job(
    catalog: Catalog,
    job_id: str,
    *,
    record_counts: dict[str, int],
    file_name: str,
    file_size: int,
    expires_at: str,
    claimant: str | None = None,
) -> bool:
    """Processing -> Complete, with the file's facts; False when the claim is no longer the caller's."""
    total = sum(record_counts.values())
    with catalog.transaction() as tx:
        cur = tx.execute(
            "UPDATE export_jobs SET status = ?, record_count = ?, record_counts = ?, rows_written = ?,"  # noqa: S608
            " file_name = ?, file_size = ?, completed_at = ?, expires_at = ?, error = NULL,"
            f" claimed_by = NULL, lease_expires_at = NULL WHERE id = ? AND {_MINE}",
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
                claimant,
                claimant,
            ),
        )
        return cur.rowcount == 1


def fail_job(catalog: Catalog, job_id: str, error: str, claimant: str | None = None) -> bool:
    """Any state -> Failed, with the reason; False when the claim is no longer the caller's."""
    with catalog.transaction() as tx:
        cur = tx.execute(
            "UPDATE export_jobs SET status = ?, error = ?, completed_at = ?, claimed_by = NULL,"  # noqa: S608
            f" lease_expires_at = NULL WHERE id = ? AND {_MINE}",
            (FAILED, error, utcnow(), job_id, claimant, claimant),
        )
        return cur.rowcount == 1


def requeue_job(catalog: Catalog, job_id: str, reason: str, claimant: str | None = None) -> bool:
    """Processing -> Pending (the job runs again from the start), remembering why."""
    with catalog.transaction() as tx:
        cur = tx.execute(
            "UPDATE export_jobs SET status = ?, error = ?, rows_written = 0, claimed_by = NULL,"  # noqa: S608
            f" lease_expires_at = NULL WHERE id = ? AND status = ? AND {_MINE}",
            (PENDING, reason, job_id, PROCESSING, claimant, claimant),
        )
        return cur.rowcount == 1


# Processing jobs whose runner is gone: a claim that ran out, or also one without a lease (claimed by a
# single process driving it, or by a server from before leases).
_EXPIRED = {
    False: "status = ? AND lease_expires_at < ?",
    True: "status = ? AND (lease_expires_at IS NULL OR lease_expires_at < ?)",
}


def interrupted_jobs(
    catalog: Catalog, expired_before: str | None = None, *, unleased: bool = True
) -> list[JobRecord]:
    """Jobs left Processing by a runner that stopped without finishing them: every Processing job, or with
    `expired_before`, those whose claim ran out before then (and, with `unleased`, those without one)."""
    with catalog.read() as conn:
        if expired_before is None:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM export_jobs WHERE status = ?",  # noqa: S608
                (PROCESSING,),
            ).fetchall()
        else:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM export_jobs WHERE {_EXPIRED[unleased]}",  # noqa: S608 - constant SQL
                (PROCESSING, expired_before),
            ).fetchall()
    return [_record(row) for row in rows]


def take_back(
    catalog: Catalog, job_id: str, expired_before: str, *, error: str, fail: bool, unleased: bool = True
) -> bool:
    """Requeue (or fail) a Processing job whose claim ran out before `expired_before`; False when that is no
    longer so (its runner renewed the claim, or another replica took the job back first)."""
    where = _EXPIRED[unleased]
    if fail:
        sql = (
            "UPDATE export_jobs SET status = ?, error = ?, completed_at = ?, claimed_by = NULL,"  # noqa: S608
            f" lease_expires_at = NULL WHERE id = ? AND {where}"
        )
        params: tuple[object, ...] = (FAILED, error, utcnow(), job_id, PROCESSING, expired_before)
    else:
        sql = (
            "UPDATE export_jobs SET status = ?, error = ?, rows_written = 0, claimed_by = NULL,"  # noqa: S608
            f" lease_expires_at = NULL WHERE id = ? AND {where}"
        )
        params = (PENDING, error, job_id, PROCESSING, expired_before)
    with catalog.transaction() as tx:
        return tx.execute(sql, params).rowcount == 1


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
        self.lost = False  # the job's claim was lost (taken over after its lease ran out)

    def _attach(self, cursor: duckdb.DuckDBPyConnection | None) -> None:
        with self._lock:
            self._cursor = cursor
        self.check()

    def check(self) -> None:
        """Raise duckdb.InterruptException when interrupted (an idle cursor ignores interrupt())."""
        if self.interrupted:
            raise duckdb.InterruptException("the export was interrupted by a server shutdown")

    def lose(self) -> None:
        """The job is no longer this runner's: stop it without recording anything."""
        self.lost = True
        self.interrupt()

    def interrupt(self) -> None:
        """Stop the running statement, if any; the job's thread then sees duckdb.InterruptException."""
        with self._lock:
            self.interrupted = True
            if self._cursor is not None:
                self._cursor.interrupt()


def copy_statement(
    rows: str, columns: Sequence[CopyColumn], *, fmt: str, compression: str | None
) -> tuple[str, list[object]]:
    """The COPY of `rows` (a SELECT of stored columns, under their stored names and DuckDB types) into the
    export's columns and format, and its leading parameters: `rows`' own parameters and the target follow."""
    params: list[object] = []
    custom: list[str] = []
    select = ", ".join(_select_item(col, fmt, params, custom) for col in columns)
    if custom:
        params.append(custom)
        rows = f"SELECT *, json_extract_string(x_columns, ?::VARCHAR[]) AS {CUSTOM_VALUES} FROM ({rows})"  # noqa: S608
    return f"COPY (SELECT {select} FROM ({rows})) TO ? ({_copy_options(fmt, compression)})", params  # noqa: S608


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
    rows = f"SELECT * FROM {source.view} WHERE {source.where}"  # noqa: S608 - names from our catalogue
    sql, params = copy_statement(rows, columns, fmt=fmt, compression=compression)
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
