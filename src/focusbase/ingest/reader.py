"""Reading a sniffed file through a mapping: DuckDB streams it as Arrow record batches of mapped columns.

The file is exposed as the view `src` with columns c0..cN, all VARCHAR (Parquet values are rendered
as text: timestamps as ISO 8601 UTC, floats via DECIMAL(38, 12), maps and structs as JSON), so
one set of transforms serves every format. Memory stays bounded: DuckDB reads the file in its own
buffers and we hold one record batch at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from focusbase.ingest.file_errors import engine_failure, is_engine_failure
from focusbase.ingest.mapping import ImportOptions, ResolvedMapping
from focusbase.ingest.sniff import FileShape, ImportFileError, connect, csv_error, duckdb_message
from focusbase.ingest.transforms import build_select, source_ids


def _as_text(name: str, dtype: str) -> duckdb.Expression:
    col = duckdb.ColumnExpression(name)
    upper = dtype.upper()
    if upper.startswith("TIMESTAMP"):
        # ISO 8601 UTC (the session time zone is UTC), with a fraction only when there is one.
        fraction = duckdb.FunctionExpression("microsecond", col) % duckdb.ConstantExpression(1_000_000)
        whole = duckdb.FunctionExpression("strftime", col, duckdb.ConstantExpression("%Y-%m-%dT%H:%M:%SZ"))
        exact = duckdb.FunctionExpression("strftime", col, duckdb.ConstantExpression("%Y-%m-%dT%H:%M:%S.%fZ"))
        return duckdb.CaseExpression(fraction == duckdb.ConstantExpression(0), whole).otherwise(exact)
    if upper == "DATE":
        return duckdb.FunctionExpression("strftime", col, duckdb.ConstantExpression("%Y-%m-%d"))
    if upper in ("DOUBLE", "FLOAT", "REAL"):
        return col.cast("DECIMAL(38, 12)").cast("VARCHAR")
    if upper.startswith(("MAP", "STRUCT")) or upper.endswith("[]") or upper == "JSON":
        return duckdb.FunctionExpression("to_json", col).cast("VARCHAR")
    return col.cast("VARCHAR")


def csv_source(
    conn: duckdb.DuckDBPyConnection, shape: FileShape, options: ImportOptions
) -> duckdb.DuckDBPyRelation:
    """The sniffed CSV file as a relation of VARCHAR columns c0..cN on `conn` (not yet read)."""
    names = list(source_ids(shape.header).values())
    # Empty unquoted cells are null; the options may name more null spellings ("NULL").
    nulls = ["", *options.null_strings]
    return conn.sql(
        "SELECT * FROM read_csv(?, header = true, auto_detect = false, columns = ?, delim = ?, "
        "quote = ?, escape = ?, encoding = ?, nullstr = ?, strict_mode = true, compression = ?)",
        params=[
            str(shape.path),
            dict.fromkeys(names, "VARCHAR"),
            shape.delimiter,
            shape.quote,
            shape.escape,
            shape.encoding,
            nulls,
            shape.compression,
        ],
    )


class MappedReader:
    """One file opened in a private in-memory DuckDB, readable raw (for matching) or mapped (for import)."""

    def __init__(self, shape: FileShape, options: ImportOptions, *, memory_limit: str | None = None) -> None:
        self.shape = shape
        self.options = options
        self.conn = connect()
        if memory_limit:
            self.conn.execute("SET memory_limit = ?", [memory_limit])
        self.conn.execute("SET preserve_insertion_order = true")
        try:
            self._open_source()
        except duckdb.Error as exc:
            self.conn.close()
            if is_engine_failure(exc):
                raise engine_failure(exc, "opening the file") from None
            raise ImportFileError(
                "unreadable_file", f"the file cannot be read: {duckdb_message(exc)}"
            ) from None

    def _open_source(self) -> None:
        shape = self.shape
        if shape.format == "csv":
            csv_source(self.conn, shape, self.options).create_view("src")
            return
        names = list(source_ids(shape.header).values())
        raw = self.conn.read_parquet(str(shape.path))
        exprs = [
            _as_text(n, str(t)).alias(f"c{i}")
            for i, (n, t) in enumerate(zip(raw.columns, raw.types, strict=True))
        ]
        rel = raw.select(*exprs)
        if self.options.null_strings:
            rel.create_view("src_typed")
            cases = ", ".join(
                f"CASE WHEN list_contains($1, c{i}) THEN NULL ELSE c{i} END AS c{i}"
                for i in range(len(names))
            )
            sql = f"SELECT {cases} FROM src_typed"  # noqa: S608 - identifiers are ours; values are parameters
            rel = self.conn.sql(sql, params=[self.options.null_strings])
        rel.create_view("src")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> MappedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, exc: duckdb.Error) -> ImportFileError:
        if self.shape.format == "csv":
            return csv_error(exc, self.shape.encoding)
        if is_engine_failure(exc):
            return engine_failure(exc, "reading the file")
        return ImportFileError("unreadable_file", f"the file cannot be read: {duckdb_message(exc)}")

    def raw_sample(self, rows: int) -> dict[str, list[str]]:
        """The first rows of each source column, as text (for auto-matching)."""
        try:
            table = self.conn.sql("SELECT * FROM src LIMIT $1", params=[rows]).to_arrow_table()
        except duckdb.Error as exc:
            raise self._fail(exc) from None
        return {h: table.column(i).to_pylist() for i, h in enumerate(self.shape.header)}

    def mapped(
        self, resolved: ResolvedMapping, *, limit: int | None = None
    ) -> tuple[list[str], str, list[Any]]:
        select = build_select(resolved, self.shape.header)
        sql = f"SELECT {select.sql} FROM src"  # noqa: S608 - identifiers are ours; values are parameters
        params = list(select.params)
        if limit is not None:
            params.append(limit)
            sql += f" LIMIT ${len(params)}"
        return select.names, sql, params

    def sample(self, resolved: ResolvedMapping, rows: int) -> pa.Table:
        """The first rows after mapping, as an all-string table with FOCUS column names."""
        names, sql, params = self.mapped(resolved, limit=rows)
        try:
            table = self.conn.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise self._fail(exc) from None
        return table.rename_columns(names)

    def batches(self, resolved: ResolvedMapping, rows_per_batch: int) -> Iterator[pa.Table]:
        """The whole file after mapping, as all-string tables of at most `rows_per_batch` rows."""
        names, sql, params = self.mapped(resolved)
        try:
            reader = self.conn.sql(sql, params=params).to_arrow_reader(rows_per_batch)
            pending: list[pa.RecordBatch] = []
            count = 0
            for batch in reader:
                pending.append(batch)
                count += batch.num_rows
                while count >= rows_per_batch:
                    table = pa.Table.from_batches(pending)
                    yield table.slice(0, rows_per_batch).rename_columns(names)
                    rest = table.slice(rows_per_batch)
                    pending, count = rest.to_batches(), rest.num_rows
            if count:
                yield pa.Table.from_batches(pending).rename_columns(names)
        except duckdb.Error as exc:
            raise self._fail(exc) from None


@contextmanager
def open_reader(
    shape: FileShape, options: ImportOptions, *, memory_limit: str | None = None
) -> Iterator[MappedReader]:
    """A MappedReader closed on exit."""
    reader = MappedReader(shape, options, memory_limit=memory_limit)
    try:
        yield reader
    finally:
        reader.close()
