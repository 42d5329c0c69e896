"""Load a cost file (CSV, optionally gzipped; Parquet; JSON envelope, array or NDJSON) and validate it.

CSV is read by DuckDB with every column as text, so the validator sees the values exactly as written and the
row order of the file is kept. Parquet keeps its column types. JSON goes through the push envelope parser.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from focusbase.focus import Dataset
from focusbase.ingest.envelope import PayloadError, parse_json_payload
from focusbase.validate import Profile, ValidationResult, validate_relation, validate_table
from focusbase.validate.columns import detect_dataset, detect_version
from focusbase.validate.engine import Progress, quick_check

FileFormat = Literal["csv", "parquet", "json"]

# FOCUS CSV is comma-separated with a header; fixing the delimiter makes a broken file an error instead of a
# one-column guess by the sniffer.
_CSV_SQL = "SELECT * FROM read_csv(?, all_varchar = true, header = true, delim = ',')"


class FileReadError(Exception):
    """The file cannot be read as CSV, Parquet or JSON (missing, unreadable or malformed)."""


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """A file's rows in file order as an Arrow table, with its detected format (and envelope dataset)."""

    path: Path
    format: FileFormat
    table: pa.Table
    dataset: str | None = None

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)


@dataclass(frozen=True, slots=True)
class FileValidation:
    """The validation of one file."""

    path: Path
    format: FileFormat
    result: ValidationResult
    version: str


def detect_format(path: Path) -> FileFormat:
    """The format from the name (.csv, .csv.gz, .parquet, .json, .ndjson, .jsonl), else the first bytes."""
    if not path.is_file():
        raise FileReadError(f"{path}: no such file")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".json", ".ndjson", ".jsonl")):
        return "json"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    head = _open_head(path)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return "csv"


def load_table(path: Path) -> LoadedFile:
    """Read a whole file into an Arrow table (CSV cells as text, empty cells null); FileReadError if not."""
    fmt = detect_format(path)
    if fmt == "parquet":
        return LoadedFile(path, fmt, _read_parquet(path))
    if fmt == "json":
        payload = _read_json(path)
        return LoadedFile(path, fmt, payload[0], payload[1])
    with _connection() as con:
        try:
            table = con.sql(_CSV_SQL, params=[str(path)]).to_arrow_table()
        except duckdb.Error as exc:
            raise FileReadError(f"{path}: cannot read as CSV: {_first_line(exc)}") from None
    return LoadedFile(path, fmt, table)


def validate_file(
    path: Path,
    *,
    profile: Profile = "strict",
    version: str | None = None,
    dataset: Dataset | None = None,
    max_findings: int = 1000,
    progress: Progress | None = None,
    percent: Callable[[float], None] | None = None,
) -> FileValidation:
    """Validate one file.

    dataset None means the JSON envelope's dataset, else the one the header follows (`detect_dataset`);
    version None means the version the header follows (`detect_version`), reported in FileValidation.version.
    """
    fmt = detect_format(path)
    if fmt != "csv":
        loaded = load_table(path)
        chosen = dataset or (
            Dataset(loaded.dataset) if loaded.dataset else detect_dataset(loaded.table.column_names)
        )
        version = version or detect_version(loaded.table.column_names, chosen)
        result = validate_table(
            loaded.table,
            profile=profile,
            version=version,
            dataset=chosen,
            max_findings=max_findings,
            progress=progress,
        )
        return FileValidation(path, fmt, result, version)
    with _connection() as con, _watch(con, percent):
        if progress:
            progress("checking the file")
        try:
            # First pass straight from the file (no table, no row numbers): enough when nothing is wrong.
            stream = con.sql(_CSV_SQL, params=[str(path)])
            chosen = dataset or detect_dataset(stream.columns)
            version = version or detect_version(stream.columns, chosen)
            stream.create_view("input_stream")
            quick = quick_check(con, "input_stream", profile=profile, version=version, dataset=chosen)
            if quick is not None:
                return FileValidation(path, fmt, quick, version)
            if progress:
                progress("reading the file for row details")
            # A DuckDB table keeps file order, so rowid + 1 is the data row number.
            con.execute(f"CREATE TABLE input AS {_CSV_SQL}", [str(path)])
        except duckdb.Error as exc:
            raise FileReadError(f"{path}: cannot read as CSV: {_first_line(exc)}") from None
        result = validate_relation(
            con,
            "input",
            row_sql="rowid + 1",
            profile=profile,
            version=version,
            dataset=chosen,
            max_findings=max_findings,
            progress=progress,
        )
    return FileValidation(path, fmt, result, version)


@contextmanager
def _watch(con: duckdb.DuckDBPyConnection, percent: Callable[[float], None] | None) -> Iterator[None]:
    """Report the running query's progress (0-100) to `percent` from a polling thread, for progress bars."""
    if percent is None:
        yield
        return
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.25):
            try:
                value = con.query_progress()
            except duckdb.Error:
                return
            if value >= 0:
                percent(float(value))

    thread = threading.Thread(target=poll, name="focusbase-validate-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    return con


def _open_head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            if head.startswith(b"\x1f\x8b"):
                import gzip

                handle.seek(0)
                with gzip.open(handle) as unzipped:
                    return unzipped.read(8)
            return head
    except OSError as exc:
        raise FileReadError(f"{path}: {exc.strerror or exc}") from None


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise FileReadError(f"{path}: cannot read as Parquet: {exc}") from None


def _read_json(path: Path) -> tuple[pa.Table, str | None]:
    try:
        data = path.read_bytes()
        if data.startswith(b"\x1f\x8b"):
            import gzip

            data = gzip.decompress(data)
    except OSError as exc:
        raise FileReadError(f"{path}: {exc.strerror or exc}") from None
    try:
        payload = parse_json_payload(data)
    except PayloadError as exc:
        raise FileReadError(f"{path}: {exc}") from None
    return payload.table, payload.dataset


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
