"""Write demo data with DuckDB COPY: CSV (optionally gzip), Parquet, NDJSON, or the push JSON envelope."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from focusbase.demo.generator import (
    DEFAULT_DAYS,
    DEFAULT_SEED,
    DEFAULT_START,
    DemoPlan,
    check_version,
    demo_connection,
    plan,
)
from focusbase.focus import Column, Dataset, columns

Format = Literal["csv", "csv.gz", "parquet", "json", "ndjson"]
FORMATS: tuple[Format, ...] = ("csv", "csv.gz", "parquet", "json", "ndjson")
ENVELOPE_PREFIX = b'{"format":"stackspend.focus","version":"1","rows":'

_EXTENSIONS: tuple[tuple[str, Format], ...] = (
    (".csv.gz", "csv.gz"),
    (".csv", "csv"),
    (".parquet", "parquet"),
    (".ndjson", "ndjson"),
    (".jsonl", "ndjson"),
    (".json", "json"),
)


@dataclass(frozen=True, slots=True)
class DemoOutput:
    """What was written: the file, its format, FOCUS version and dataset, and the row count."""

    path: Path
    format: Format
    focus_version: str
    dataset: Dataset
    rows: int
    plan: DemoPlan


def format_for(path: Path) -> Format:
    """The output format implied by a file name (.csv, .csv.gz, .parquet, .json, .ndjson)."""
    name = path.name.lower()
    for suffix, fmt in _EXTENSIONS:
        if name.endswith(suffix):
            return fmt
    raise ValueError(
        f"cannot tell the format of {path.name!r}; use .csv, .csv.gz, .parquet, .json or .ndjson"
    )


def _quote(name: str) -> str:
    # Column names come from our own FOCUS catalogue, never from user input.
    return '"' + name.replace('"', '""') + '"'


def _projection(cols: dict[str, Column], fmt: Format) -> str:
    parts = []
    for name, col in cols.items():
        q = _quote(name)
        if col.data_type == "Decimal":
            expr = f"demo_dec({q})" if fmt in ("csv", "csv.gz") else q
        elif col.data_type == "Date/Time":
            expr = f"CAST({q} AS TIMESTAMPTZ)" if fmt == "parquet" else f"demo_ts({q})"
        elif col.data_type == "JSON" and fmt in ("json", "ndjson"):
            expr = f"CAST({q} AS JSON)"
        else:
            expr = q
        parts.append(f"{expr} AS {q}")
    return ", ".join(parts)


def _source(dataset: Dataset) -> str:
    return "demo_rows" if dataset is Dataset.COST_AND_USAGE else "demo_contract_commitment_rows"


def _select(focus_version: str, dataset: Dataset, fmt: Format) -> str:
    cols = columns(focus_version, dataset)
    return f"SELECT {_projection(cols, fmt)} FROM {_source(dataset)}"  # noqa: S608 - catalogue names only


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path, fmt: Format) -> None:
    rel = con.sql(query)
    if fmt in ("csv", "csv.gz"):
        rel.write_csv(str(path), header=True, compression="gzip" if fmt == "csv.gz" else None)
    elif fmt == "parquet":
        rel.write_parquet(str(path), compression="zstd")
    else:
        # JSON is written by COPY only; the path goes in as a quoted literal (single quotes doubled).
        literal = "'" + str(path).replace("'", "''") + "'"
        array = "true" if fmt == "json" else "false"
        con.execute(f"COPY ({query}) TO {literal} (FORMAT json, ARRAY {array})")


def _validate_dataset(focus_version: str, dataset: Dataset) -> None:
    check_version(focus_version)
    if dataset is Dataset.CONTRACT_COMMITMENT and focus_version != "1.3":
        raise ValueError("the Contract Commitment dataset exists from FOCUS 1.3; use --focus-version 1.3")


def write_demo_data(
    out: Path,
    rows: int,
    *,
    focus_version: str = "1.2",
    seed: int = DEFAULT_SEED,
    days: int = DEFAULT_DAYS,
    start: date = DEFAULT_START,
    fmt: Format | None = None,
    dataset: Dataset = Dataset.COST_AND_USAGE,
) -> DemoOutput:
    """Generate `rows` Cost and Usage rows (or the matching Contract Commitment rows) into `out`."""
    _validate_dataset(focus_version, dataset)
    fmt = fmt or format_for(out)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    p = plan(rows, days=days, start=start, seed=seed)
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target and rename, so a failed run never leaves a half-written file behind.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    spill = tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".spill", dir=out.parent)
    try:
        with demo_connection(p, temp_dir=spill) as con:
            query = _select(focus_version, dataset, fmt)
            if fmt == "json":
                body = tmp.with_suffix(".body")
                try:
                    _copy(con, query, body, fmt)
                    with tmp.open("wb") as dst, body.open("rb") as src:
                        dst.write(ENVELOPE_PREFIX)
                        shutil.copyfileobj(src, dst, 1 << 20)
                        dst.write(b"}\n")
                finally:
                    body.unlink(missing_ok=True)
            else:
                _copy(con, query, tmp, fmt)
            count = _count(con, dataset)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(spill, ignore_errors=True)
    return DemoOutput(out, fmt, focus_version, dataset, count, p)


def _count(con: duckdb.DuckDBPyConnection, dataset: Dataset) -> int:
    if dataset is Dataset.COST_AND_USAGE:
        row = con.execute(
            "SELECT (SELECT n_usage FROM demo_params) + (SELECT count(*) FROM demo_special)"
        ).fetchone()
    else:
        row = con.execute("SELECT count(*) FROM demo_contract_commitment_rows").fetchone()
    assert row is not None
    return int(row[0])


def generate(
    rows: int,
    *,
    focus_version: str = "1.2",
    seed: int = DEFAULT_SEED,
    days: int = DEFAULT_DAYS,
    start: date = DEFAULT_START,
    dataset: Dataset = Dataset.COST_AND_USAGE,
) -> pa.Table:
    """Generate demo rows in memory as an Arrow table (DECIMAL money, UTC timestamps, JSON as text)."""
    _validate_dataset(focus_version, dataset)
    p = plan(rows, days=days, start=start, seed=seed)
    with demo_connection(p) as con:
        table: pa.Table = con.sql(_select(focus_version, dataset, "parquet")).to_arrow_table()
    return table
