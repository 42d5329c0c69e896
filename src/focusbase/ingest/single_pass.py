"""Single-pass import: a clean CSV file read, checked and staged by one parallel DuckDB statement.

The part path (ingest.imports) streams a file as Arrow parts: each part is copied out of the reader's
DuckDB, checked in a DuckDB of its own, and copied again into the warehouse by the stager. For a clean file
the same work runs here inside the warehouse as one `INSERT ... SELECT`: DuckDB's parallel CSV reader feeds
the mapping, the validator's error rules (a guard that stops the statement at the first row breaking one)
and the casts into the stored columns, on every core, with no copies between them. The dataset rules, which
no single row breaks, are then checked over the staged rows of the whole file.

Anything this path cannot vouch for makes it give up: the statement is rolled back and the file goes through
the part path, which reports exactly what it always reports (row numbers, findings, partial imports); when a
row broke a rule, the parts are only checked, not staged. A file with problems is therefore read twice; a
clean one once. Rows of a single-pass batch are stored in the order
DuckDB's threads write them, not in file order (see docs/import.md).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from focusbase.focus import LATEST_VERSION, is_custom_column
from focusbase.ingest import batches
from focusbase.ingest.limits import too_many_rows
from focusbase.ingest.model import IngestError, PartResult
from focusbase.ingest.normalise import (
    ColumnError,
    canonical_columns,
    casts,
    defaults,
)
from focusbase.ingest.parts import provider_defaults
from focusbase.ingest.reader import csv_source
from focusbase.ingest.sniff import duckdb_message
from focusbase.ingest.transforms import build_select
from focusbase.runtime import Runtime
from focusbase.storage import cost_rows
from focusbase.storage.cost_rows import CUSTOM_COLUMN, TABLES, staged_marker
from focusbase.validate.engine import GUARD_MESSAGE, RowGuard, dataset_rules_hold, row_guard
from focusbase.validate.parsing import quote_identifier, quote_literal

log = logging.getLogger(__name__)

METHOD = "single-pass"  # progress.method of a batch staged here
PROGRESS_SECONDS = 0.5  # how often the batch's progress is updated while the statement runs

if TYPE_CHECKING:  # ingest.imports runs this module
    from focusbase.ingest.imports import StartedImport


def eligible(runtime: Runtime, started: StartedImport) -> bool:
    """Whether the single pass may try this import (CSV, no partial import, enabled, mapping resolved)."""
    return (
        runtime.settings.import_single_pass
        and runtime.ingest.single_pass
        and started.plan.shape.format == "csv"
        and not started.allow_partial
        and started.plan.resolved is not None
    )


@dataclass(frozen=True, slots=True)
class GaveUp:
    """The single pass left the file to the part path; `rejected`: a row breaks an error rule, so the part
    path will reject the file and only has to find and report the first bad part (it stages nothing)."""

    reason: str
    rejected: bool = False


def stage(
    runtime: Runtime,
    started: StartedImport,
    on_progress: Callable[[dict[str, Any]], None],
) -> PartResult | GaveUp:
    """Stage the whole file in one statement; its tally, or why the file is left to the part path.

    Raises IngestError when the import is interrupted or its batch was closed meanwhile, ImportFileError
    when the file has more rows than an import may hold.
    """
    with runtime.warehouse.cursor() as cur:
        try:
            result = _stage(runtime, started, cur, on_progress)
        except duckdb.Error as exc:
            if started.cancel.is_set():
                raise IngestError(
                    503, "import_interrupted", "the import was interrupted by a shutdown"
                ) from None
            log.info("batch %s: the single pass gave up (%s); importing part by part", started.batch.id, exc)
            return GaveUp(duckdb_message(exc), rejected=GUARD_MESSAGE in str(exc))
    if isinstance(result, PartResult):
        # The rows are staged (hidden until the commit): from here on an error fails the batch, which drops
        # them; it never sends the file down the part path as well.
        batches.record_staged(runtime, started.batch, result)
    return result


class _Watch:
    """While the statement runs: report its progress on the batch, and interrupt it on shutdown."""

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        started: StartedImport,
        report: Callable[[float], None],
    ) -> None:
        self.cur = cur
        self.started = started
        self.report = report
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="focusbase-import-watch", daemon=True)

    def __enter__(self) -> _Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.done.wait(PROGRESS_SECONDS):
            if self.started.cancel.is_set():
                self.cur.interrupt()
                return
            try:
                percent = float(self.cur.query_progress())
                if percent >= 0:
                    self.report(percent)
            except Exception:  # progress is informative; never let it break the import
                log.exception("recording the progress of batch %s failed", self.started.batch.id)


def _stage(
    runtime: Runtime,
    started: StartedImport,
    cur: duckdb.DuckDBPyConnection,
    on_progress: Callable[[dict[str, Any]], None],
) -> PartResult | GaveUp:
    plan, batch = started.plan, started.batch
    resolved = plan.resolved
    if resolved is None:
        return GaveUp("the mapping does not fit the file")
    dataset = batch.dataset
    cur.execute("SET TimeZone = 'UTC'")  # as in the reader: mapped date-times with an offset render in UTC
    # DuckDB tracks a statement's progress only with its progress bar on (never printed here).
    cur.execute("SET enable_progress_bar = true")
    cur.execute("SET enable_progress_bar_print = false")
    cur.execute("SET progress_bar_time = 0")
    csv_source(cur, plan.shape, plan.mapping.options).create_view("__fb_src")
    select = build_select(resolved, plan.shape.header)
    mapped = cur.sql(f"SELECT {select.sql} FROM __fb_src", params=list(select.params))  # noqa: S608
    if any(str(kind) != "VARCHAR" for kind in mapped.types):
        return GaveUp("a mapped column is not text")  # the part path renders other types its own way
    try:
        empty = pa.Table.from_arrays([pa.array([], pa.string()) for _ in select.names], names=select.names)
        names = canonical_columns(empty, dataset).column_names
    except ColumnError as exc:
        return GaveUp(str(exc))
    mapped.create_view("__fb_mapped0")
    renamed = ", ".join(
        f"{quote_identifier(column)} AS {quote_identifier(name)}"
        for column, name in zip(mapped.columns, names, strict=True)
    )
    cur.execute(f"CREATE TEMP VIEW __fb_mapped AS SELECT {renamed} FROM __fb_mapped0")  # noqa: S608
    present = set(names)
    fills, described = defaults(dataset, present, provider_defaults(runtime, batch, started.provider))
    # The part path fills empty cells of given columns before checking them and counts how many it filled;
    # one statement cannot count them, so such a cell sends the file to the part path.
    in_place = [fill.column for fill in fills if fill.column in present]
    added = [fill for fill in fills if fill.column not in present]
    guard = row_guard(
        cur,
        "__fb_mapped",
        carry=names,
        not_null=in_place,
        profile="ingest",
        version=LATEST_VERSION,
        dataset=dataset,
    )
    if guard is None:
        return GaveUp("the file's columns give an error")
    custom = [name for name in names if is_custom_column(name)]
    # One row past the limit is enough to refuse the file: the statement stops there (a streaming limit,
    # still parallel), so a file of a billion short rows costs no more than one at the limit.
    max_rows = int(runtime.settings.import_max_rows)
    source = f"SELECT * FROM ({guard.sql}) LIMIT {max_rows + 1}"  # noqa: S608 - an integer setting
    if custom:
        packed = ", ".join(f"{quote_identifier(name)} := {quote_identifier(name)}" for name in custom)
        source = f"SELECT *, struct_pack({packed}) AS {CUSTOM_COLUMN} FROM ({source})"  # noqa: S608
    cur.execute(f"CREATE TEMP VIEW __source AS {source}")
    sql, params = cost_rows.select_sql(
        cur,
        dataset,
        casts(dataset, present) + added,
        has_custom=bool(custom),
        row_seq="CAST(0 AS BIGINT)",  # provisional, like a part's; the commit draws the final row_seq
        superseded_by=staged_marker(batch.id),
        workspace_id=batch.workspace_id,
        provider_id=batch.provider_id,
        batch_id=batch.id,
    )
    estimated = started.estimated_rows

    def report(percent: float) -> None:
        rows = int(estimated * percent / 100) if estimated else 0
        progress = {
            "rowsRead": rows,
            "estimatedRows": estimated,
            "percent": min(99.0, round(percent, 1)),
            "phase": "reading",
            "method": METHOD,
        }
        batches.set_progress(runtime, batch, progress)
        on_progress(progress)

    table = TABLES[dataset].rows
    cur.execute("BEGIN TRANSACTION")
    try:
        with _Watch(cur, started, report):
            inserted = cur.execute(f"INSERT INTO {table} {sql}", params).fetchall()
        rows = int(inserted[0][0])
        if rows > max_rows:
            cur.execute("ROLLBACK")
            raise too_many_rows(max_rows)
        if rows == 0 or not _dataset_rules_hold(cur, guard, table, batch.id):
            cur.execute("ROLLBACK")
            return GaveUp("no rows" if rows == 0 else "a dataset rule is broken across the file")
        # The file's rollup pre-aggregates, staged with its rows (the commit only re-groups them).
        cost_rows.stage_batch_rollup(cur, dataset, batch.id)
        cur.execute("COMMIT")
    except BaseException:
        # A failed statement or commit may have ended the transaction already; keep the original error.
        with contextlib.suppress(duckdb.Error):
            cur.execute("ROLLBACK")
        raise
    result = PartResult(batch.id, 1, rows, rows, 0)
    for fill in added:
        result.defaults_applied[fill.column] = {**described[fill.column], "rows": rows}
    return result


def _dataset_rules_hold(cur: duckdb.DuckDBPyConnection, guard: RowGuard, table: str, batch_id: str) -> bool:
    marker = quote_literal(staged_marker(batch_id))
    cur.execute(
        f"CREATE TEMP VIEW __fb_staged AS SELECT * FROM {table} WHERE superseded_by = {marker}"  # noqa: S608
    )
    return dataset_rules_hold(cur, guard, "__fb_staged")
