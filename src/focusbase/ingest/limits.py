"""Bounds on one import file: decompressed bytes, rows and columns, checked before the engine reads it.

A small upload can hold a great deal: a few megabytes of gzip can expand to gigabytes of rows, and a short
header can name ten thousand columns. These checks look only at what is cheap to learn first (the header
line, a Parquet footer, a count of decompressed bytes that stops at the limit), so such a file is refused
quickly, with the limit and the setting that raises it, before DuckDB parses it or a row is stored.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow.parquet as pq

from focusbase.ingest.file_errors import ImportFileError

HEADER_SCAN_BYTES = 1 << 20  # the header and first rows are counted in the file's first MiB of text
HEADER_SCAN_ROWS = 1_000
MEASURE_CHUNK = 1 << 20
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True, slots=True)
class FileLimits:
    """The bounds one import file must keep; None leaves a bound off."""

    max_decompressed_bytes: int | None = None
    max_rows: int | None = None
    max_custom_columns: int | None = None
    max_columns: int | None = None  # the header's width: custom columns plus every FOCUS column
    # How far a gzip file is decompressed to measure it while it is recognised; a larger file is only known
    # to be larger, and is measured up to max_decompressed_bytes by the import that reads it.
    measure_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class TextSize:
    """Bytes of a file's text (after gunzip), counted up to a bound; `complete`: the whole file was seen."""

    bytes: int
    complete: bool


def too_large(limit: int) -> ImportFileError:
    """The 413 for a file whose text is larger than the decompressed-bytes limit."""
    return ImportFileError(
        "file_too_large",
        f"the file holds more than {limit:,} bytes once decompressed, the import limit "
        f"(FOCUSBASE_IMPORT_MAX_DECOMPRESSED_BYTES = {limit}); nothing was stored: split it into smaller "
        "files",
        {"maxDecompressedBytes": limit, "setting": "FOCUSBASE_IMPORT_MAX_DECOMPRESSED_BYTES"},
        status=413,
    )


def too_many_rows(limit: int) -> ImportFileError:
    """The 413 for a file with more rows than one import may hold."""
    return ImportFileError(
        "too_many_rows",
        f"the file has more than {limit:,} rows, the import limit (FOCUSBASE_IMPORT_MAX_ROWS = {limit}); "
        "nothing was stored: split it into smaller files",
        {"maxRows": limit, "setting": "FOCUSBASE_IMPORT_MAX_ROWS"},
        status=413,
    )


def too_many_custom_columns(count: int, limit: int, setting: str) -> ImportFileError:
    """The 422 for a file whose rows would carry more custom (x_) columns than a row or batch may."""
    return ImportFileError(
        "too_many_custom_columns",
        f"the file has {count:,} custom (x_) columns, more than the limit of {limit:,} ({setting}); "
        "list the ones not needed in the mapping's ignore",
        {"customColumns": count, "limit": limit, "setting": setting},
    )


def too_many_columns(count: int, limits: FileLimits, *, at_least: bool = False) -> ImportFileError:
    """The 422 for a header wider than any importable file: every FOCUS column plus the custom limit."""
    assert limits.max_columns is not None and limits.max_custom_columns is not None
    counted = f"at least {count:,}" if at_least else f"{count:,}"
    return ImportFileError(
        "too_many_custom_columns",
        f"the header has {counted} columns, more than the {limits.max_columns:,} a file may have (every "
        f"FOCUS column plus {limits.max_custom_columns:,} custom columns, "
        "FOCUSBASE_MAX_CUSTOM_COLUMNS_PER_ROW)",
        {
            "columns": count,
            "maxColumns": limits.max_columns,
            "setting": "FOCUSBASE_MAX_CUSTOM_COLUMNS_PER_ROW",
        },
    )


def too_many_fields(row: int, count: int, limits: FileLimits) -> ImportFileError:
    """The 422 for a data row wider than any importable file (whatever its header says)."""
    assert limits.max_columns is not None
    return ImportFileError(
        "too_many_custom_columns",
        f"data row {row} of the file has at least {count:,} fields, more than the {limits.max_columns:,} "
        f"columns a file may have (every FOCUS column plus {limits.max_custom_columns:,} custom columns, "
        "FOCUSBASE_MAX_CUSTOM_COLUMNS_PER_ROW)",
        {"row": row, "columns": count, "maxColumns": limits.max_columns},
    )


def check_header(header: list[str], limits: FileLimits, *, complete: bool = True) -> None:
    """Refuse a header wider than every FOCUS column plus the custom columns a row may carry.

    The exact count of custom columns depends on the mapping (ignored columns, renames), so it is checked
    once the mapping is resolved; this bound only keeps a header of thousands of columns from the engine.
    """
    if limits.max_columns is not None and len(header) > limits.max_columns:
        raise too_many_columns(len(header), limits, at_least=not complete)


def _text_head(path: Path, gz: bool, encoding: str) -> tuple[str, bool]:
    """The first HEADER_SCAN_BYTES of the file's text, and whether that is the whole file."""
    with gzip.open(path, "rb") if gz else path.open("rb") as fh:
        raw = fh.read(HEADER_SCAN_BYTES)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(raw).lstrip("\ufeff"), len(raw) < HEADER_SCAN_BYTES


def check_csv_header(path: Path, gz: bool, encoding: str, delimiter: str | None, limits: FileLimits) -> None:
    """Count the fields of the header and first rows with the csv module before DuckDB sniffs the file (its
    sniffer, given ten thousand columns, works for minutes). The delimiter, when not given, is the one that
    splits the header into the most fields."""
    if limits.max_columns is None:
        return
    try:
        text, whole = _text_head(path, gz, encoding)
    except (OSError, EOFError, LookupError, zlib.error):
        return  # the sniffer reports an unreadable file with its own message
    best, header = delimiter or ",", list[str]()
    for delim in (delimiter,) if delimiter else _DELIMITERS:
        row = _first_row(text, delim)
        if len(row) > len(header):
            best, header = delim, row
    # A record cut off by the end of the scanned text counts only when it is already too wide.
    complete = whole or "\n" in text or "\r" in text
    check_header(header, limits, complete=complete)
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=best)):
            if number and len(row) > limits.max_columns:
                raise too_many_fields(number, len(row), limits)
            if number >= HEADER_SCAN_ROWS:
                break
    except csv.Error:
        return  # a malformed row: DuckDB's reader names its line


def _first_row(text: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    except csv.Error:
        return text.splitlines()[0].split(delimiter) if text else []


def check_parquet_footer(path: Path, limits: FileLimits) -> int:
    """Check a Parquet file's columns, rows and uncompressed size from its footer, before it is read;
    its uncompressed size."""
    try:
        parquet = pq.ParquetFile(path)
        meta = parquet.metadata
        header = list(parquet.schema_arrow.names)
    except Exception as exc:  # pyarrow raises several kinds for a corrupt footer
        raise ImportFileError("unreadable_file", f"the Parquet file cannot be read: {exc}") from None
    check_header(header, limits)
    if limits.max_rows is not None and meta.num_rows > limits.max_rows:
        raise too_many_rows(limits.max_rows)
    total = sum(int(meta.row_group(i).total_byte_size) for i in range(meta.num_row_groups))
    if limits.max_decompressed_bytes is not None and total > limits.max_decompressed_bytes:
        raise too_large(limits.max_decompressed_bytes)
    return total


def text_size(path: Path, gz: bool, limits: FileLimits) -> int | None:
    """Bytes of a CSV file's text, refused over the limit; None when a gzip file is only known to be larger
    than `limits.measure_bytes`."""
    limit = limits.max_decompressed_bytes
    stop_after = min(x for x in (limit, limits.measure_bytes, 1 << 62) if x is not None)
    size = measure_text(path, "gzip" if gz else "none", stop_after)
    if limit is not None and size.bytes > limit:
        raise too_large(limit)
    return size.bytes if size.complete else None


def measure_text(path: Path, compression: Literal["gzip", "none"], stop_after: int) -> TextSize:
    """Bytes of the file's text, decompressing in bounded chunks and stopping once past `stop_after`."""
    if compression == "none":
        size = path.stat().st_size
        return TextSize(size, True)
    total = 0
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(MEASURE_CHUNK):
                total += len(chunk)
                if total > stop_after:
                    return TextSize(total, False)
    except (OSError, EOFError, zlib.error) as exc:
        raise ImportFileError("unreadable_file", f"the gzip file cannot be read: {exc}") from None
    return TextSize(total, True)
