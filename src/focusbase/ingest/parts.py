"""One part of a batch: canonical columns, defaults, validation with the ingest profile, the insert plan."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from focusbase.focus import LATEST_VERSION
from focusbase.ingest.model import MAX_ERRORS, Batch, IngestError, PartResult
from focusbase.ingest.normalise import (
    ColumnError,
    ProviderDefaults,
    as_strings,
    canonical_columns,
    casts,
    defaults,
    pack_custom_columns,
    with_row_numbers,
)
from focusbase.runtime import Runtime
from focusbase.storage import cost_rows
from focusbase.storage.cost_rows import ROW_COLUMN
from focusbase.tenancy.providers import Provider, get_provider
from focusbase.validate import validate_table

# DuckDB scans an Arrow table one record batch per thread: a part arriving as one long chunk per column (a
# parsed JSON body) is checked by a single core. Zero-copy slices of this many rows let every core check it
# (a 100,000-row part: 0.82 s as one chunk, 0.48 s sliced). Storing wants the opposite, one chunk in order
# (storage.cost_rows.one_chunk).
CHUNK_ROWS = 16_384


def in_chunks(table: pa.Table, rows: int = CHUNK_ROWS) -> pa.Table:
    """The same table as record batches of at most `rows` rows (zero copy)."""
    if table.num_rows <= rows:
        return table
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows), schema=table.schema)


def provider_defaults(runtime: Runtime, batch: Batch, provider: Provider | None) -> ProviderDefaults:
    if provider is None:
        provider = get_provider(runtime.catalog, batch.workspace_id, batch.provider_id)
        if provider is None:
            raise IngestError(404, "not_found", f"provider {batch.provider_id} not found")
    return ProviderDefaults(provider.id, provider.name, provider.default_currency)


def merge_defaults(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged = {name: dict(entry) for name, entry in old.items()}
    for name, entry in new.items():
        if name in merged:
            merged[name]["rows"] = int(merged[name]["rows"]) + int(entry["rows"])
        else:
            merged[name] = dict(entry)
    return merged


def prepare_part(
    runtime: Runtime,
    batch: Batch,
    table: pa.Table,
    *,
    provider: Provider | None = None,
    first_row: int | None = None,
) -> tuple[cost_rows.Prepared | None, PartResult]:
    """Validate and normalise one part's rows; returns the rows to store (None if none) and the tally."""
    if first_row is None:
        first_row = batch.rows_received + 1
    result = PartResult(batch.id, first_row, table.num_rows, 0, 0)
    try:
        table = in_chunks(canonical_columns(as_strings(table), batch.dataset))
    except ColumnError as exc:
        result.rows_rejected = table.num_rows
        # One error for the whole header, naming the first columns: its size does not grow with the width.
        result.errors = [
            {"row": None, "column": exc.columns[0], "code": "unknown_column", "message": str(exc)}
        ]
        result.error_count = 1
        result.fatal = True
        return None, result
    if table.num_rows == 0:
        return None, result  # an empty batch stores nothing (replace_range still clears its window)
    defaults_of_provider = provider_defaults(runtime, batch, provider)
    rules, described = defaults(batch.dataset, set(table.column_names), defaults_of_provider)
    # Empty cells of given columns are defaulted before validation (so non-null rules pass); absent
    # columns are added after it, from the valid rows only, so one bad value never yields several errors.
    in_place = [rule for rule in rules if rule.column in table.column_names]
    added = [rule for rule in rules if rule.column not in table.column_names]
    # Arrow keeps each column's null count: no scan of the rows to learn which defaults apply.
    nulls = {rule.column: int(table.column(rule.column).null_count) for rule in in_place}
    needed = [rule for rule in in_place if nulls[rule.column]]
    if needed:
        with runtime.warehouse.cursor() as cur:
            table = cost_rows.fill_defaults(cur, table, needed)
    for rule in in_place:
        if nulls[rule.column]:
            result.defaults_applied[rule.column] = {**described[rule.column], "rows": nulls[rule.column]}
    checked = validate_table(
        table,
        profile="ingest",
        version=LATEST_VERSION,
        dataset=batch.dataset,
        max_findings=MAX_ERRORS,
        row_offset=first_row - 1,
        quick=True,  # most parts are clean: one cheaper pass, and the full one only when something fails
    )
    result.errors = [
        {"row": f.row, "column": f.column, "code": f.rule, "message": f.message}
        for f in checked.findings
        if f.severity == "error"
    ][:MAX_ERRORS]
    result.error_count = checked.counts.errors
    beyond = _beyond_warehouse(runtime, table, first_row, set(checked.invalid_rows))
    for row in beyond[: max(0, MAX_ERRORS - len(result.errors))]:
        result.errors.append(beyond_error(runtime, row))
    result.error_count += len(beyond)
    invalid = sorted(set(checked.invalid_rows) | set(beyond))
    table = with_row_numbers(table, first_row)
    if invalid:
        keep = pc.invert(pc.is_in(table.column(ROW_COLUMN), value_set=pa.array(invalid, type=pa.int64())))
        table = table.filter(keep)
    result.rows_rejected = len(invalid)
    result.rows_accepted = table.num_rows
    if checked.file_errors or (result.error_count and not invalid):
        # A table-level problem (a missing mandatory column, say) rejects every row.
        result.rows_rejected, result.rows_accepted = result.rows_received, 0
        result.fatal = True
        return None, result
    if table.num_rows == 0:
        return None, result
    for rule in added:
        result.defaults_applied[rule.column] = {**described[rule.column], "rows": table.num_rows}
    # Absent columns are filled by the insert itself (one pass over the rows, no intermediate copy).
    plan = casts(batch.dataset, set(table.column_names)) + added
    prepared = cost_rows.Prepared(pack_custom_columns(table), plan)
    return prepared, result


def _beyond_warehouse(runtime: Runtime, table: pa.Table, first_row: int, invalid: set[int]) -> list[int]:
    """Row numbers of valid rows whose charge day the warehouse cannot store (the ClickHouse warehouse's Date
    ends in 2149; the embedded one has no such bound). Valid ChargePeriodStart values are ISO 8601, so their
    first ten characters are the day, compared as text."""
    bounds = runtime.ingest.charge_days
    if bounds is None or "ChargePeriodStart" not in table.column_names:
        return []
    days = pc.utf8_slice_codeunits(table.column("ChargePeriodStart"), 0, 10)
    low, high = (day.isoformat() for day in bounds)
    outside = pc.or_(pc.less(days, low), pc.greater(days, high))
    positions = pc.indices_nonzero(pc.fill_null(outside, False)).to_pylist()
    return [first_row + p for p in positions if first_row + p not in invalid]


def beyond_error(runtime: Runtime, row: int) -> dict[str, int | str | None]:
    low, high = runtime.ingest.charge_days or (None, None)
    return {
        "row": row,
        "column": "ChargePeriodStart",
        "code": "beyond_warehouse_range",
        "message": f"the warehouse stores charge days from {low} to {high} (ClickHouse's Date type);"
        " this row's ChargePeriodStart is outside them",
    }
