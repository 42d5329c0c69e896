"""Export files from the ClickHouse warehouse: the same files the embedded warehouse writes for the same rows.

ClickHouse selects the live rows (the export's filters and the live filter) and streams them as Arrow blocks
in row_id order; a DuckDB engine in this process, holding no data of its own, writes them with the same
COPY statement the embedded warehouse runs (storage/exports.py `copy_statement`) over a relation with the
embedded warehouse's column names and types (DECIMAL(38, 12), TIMESTAMP in UTC, JSON for JSON columns and
x_columns, VARCHAR). So the columns, their order, the value text of CSV and JSON lines (exact decimals,
times in the export's format, JSON columns and NULLs) and the Parquet types are DuckDB's own. Memory stays
bounded: one block is in flight at a time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from focusbase.focus import Dataset
from focusbase.storage.clickhouse_served import (
    TIME_PARAMETER,
    ClickHouseServedReads,
    Where,
    cost_where,
    scope_where,
    utc_bounded,
)
from focusbase.storage.clickhouse_types import LIVE, TABLES
from focusbase.storage.export_rows import ExportSource, Progress
from focusbase.storage.exports import CopyColumn, CopyHandle, copy_statement
from focusbase.storage.query import quote

# Strings as Arrow strings, LowCardinality columns as plain ones: every block has the same schema.
_ARROW_SETTINGS = {
    "output_format_arrow_string_as_string": 1,
    "output_format_arrow_low_cardinality_as_dictionary": 0,
}
_STREAM = "__export_rows"
PROGRESS_INTERVAL = 0.5


def export_where(source: ExportSource) -> Where:
    """The rows of an export member as conditions (storage/exports.py's filters; the reads add `LIVE`)."""
    if source.dataset is Dataset.COST_AND_USAGE:
        return cost_where(source.cost_filters())
    start, end = source.window()
    where = scope_where(source.scope)
    return Where(
        where.sql + f' AND ("ContractCommitmentPeriodStart" IS NULL'
        f' OR "ContractCommitmentPeriodStart" < {{cc_end:{TIME_PARAMETER}}})'
        f' AND ("ContractCommitmentPeriodEnd" IS NULL'
        f' OR "ContractCommitmentPeriodEnd" > {{cc_start:{TIME_PARAMETER}}})',
        {**where.params, "cc_end": utc_bounded(end), "cc_start": utc_bounded(start)},
    )


def _stream_type(data_type: str) -> pa.DataType:
    """The Arrow type a stored column is handed to DuckDB as (the embedded warehouse's type, before JSON)."""
    if data_type == "Decimal":
        return pa.decimal128(38, 12)
    if data_type == "Date/Time":
        return pa.timestamp("us")  # naive UTC, as the embedded warehouse stores times
    return pa.string()


def _stored_columns(columns: Sequence[CopyColumn]) -> list[tuple[str, str]]:
    """(stored name, FOCUS data type) of each stored column the output reads, once each, x_columns last."""
    found: dict[str, str] = {}
    custom = False
    for col in columns:
        if col.data_type in ("Custom", "CustomAll"):
            custom = True
        else:
            found.setdefault(col.source, col.data_type)
    if custom:
        found["x_columns"] = "JSON"
    return list(found.items())


def _typed_rows(stored: list[tuple[str, str]]) -> str:
    """DuckDB SQL over the stream with the embedded warehouse's column types (JSON where it stores JSON)."""
    items = [
        f"CAST({quote(name)} AS JSON) AS {quote(name)}" if data_type == "JSON" else quote(name)
        for name, data_type in stored
    ]
    return f"SELECT {', '.join(items)} FROM {_STREAM}"  # noqa: S608 - our own column names


class ClickHouseExports(ClickHouseServedReads):
    """The export copy (`storage.export_rows.ExportRows`); mixed into the warehouse with the other reads.

    The count (for progress) and the stream are two queries with no snapshot between them (ClickHouse has
    none): a commit landing between them can make the rows written differ from the total. Each is atomic.
    """

    def custom_keys(self, source: ExportSource) -> list[str]:
        """The x_ column names in the live rows `source` selects."""
        return self.custom_keys_where(source.dataset, export_where(source))

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
        """Stream the live rows `source` selects into `target`, written as the embedded warehouse writes
        them; returns the rows written. Interrupted between blocks (and inside DuckDB's write) by `handle`;
        an interrupted or failed copy leaves no file."""
        table = TABLES[source.dataset].name
        where = export_where(source)
        stored = _stored_columns(columns)
        missing = [name for name, _ in stored if name not in self._stored(source.dataset)]
        if missing:
            raise ValueError(f"not stored columns: {missing}")
        schema = pa.schema([(name, _stream_type(data_type)) for name, data_type in stored])
        select = ", ".join(quote(name) for name, _ in stored)
        sql = f"SELECT {select} FROM {table} WHERE {where.sql} AND {LIVE} ORDER BY row_id"  # noqa: S608
        copy_sql, params = copy_statement(_typed_rows(stored), columns, fmt=fmt, compression=compression)
        total = int(
            self._query(f"SELECT count() FROM {table} WHERE {where.sql} AND {LIVE}", where.params)[0][0]  # noqa: S608
        )
        if on_progress is not None:
            on_progress(0, total)
        sent = [0]
        engine = duckdb.connect()
        try:
            engine.execute("SET threads = 1")  # one writer in row_id order; the work is ClickHouse's
            if handle is not None:
                handle._attach(engine)
            with (
                self._client_lock,
                self._client.query_arrow_stream(sql, where.params, _ARROW_SETTINGS) as blocks,
            ):
                batches = _batches(blocks, schema, total, sent, on_progress, handle)
                engine.register(_STREAM, pa.RecordBatchReader.from_batches(schema, batches))
                result = engine.execute(copy_sql, [*params, str(target)]).fetchone()
            if handle is not None:
                handle.check()  # a stream stopped between blocks wrote only part of the rows
        except BaseException:
            with contextlib.suppress(OSError):
                target.unlink(missing_ok=True)
            raise
        finally:
            if handle is not None:
                with handle._lock:
                    handle._cursor = None
            engine.close()
        written = int(result[0]) if result else 0
        if on_progress is not None:
            on_progress(written, total)
        return written


def _batches(
    blocks: Any,
    schema: pa.Schema,
    total: int,
    sent: list[int],
    on_progress: Progress | None,
    handle: CopyHandle | None,
) -> Iterator[pa.RecordBatch]:
    """ClickHouse's Arrow blocks in the stream's schema, stopping at an interrupt between blocks."""
    reported = time.monotonic()
    for block in blocks:
        if handle is not None and handle.interrupted:
            return
        # A block is a RecordBatch (a Table from some versions of the client).
        for batch in block.to_batches() if isinstance(block, pa.Table) else [block]:
            yield _conformed(batch, schema)
            sent[0] += batch.num_rows
        if on_progress is not None and time.monotonic() - reported >= PROGRESS_INTERVAL:
            reported = time.monotonic()
            on_progress(min(sent[0], total), total)


def _conformed(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for field, column in zip(schema, batch.columns, strict=True):
        if column.type != field.type:
            column = column.cast(field.type)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
