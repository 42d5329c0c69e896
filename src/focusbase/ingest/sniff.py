"""Recognising an import file: format, compression, encoding, delimiter and header, by DuckDB's CSV sniffer.

Nothing here loads a whole file into Python memory: the format is told by its first bytes, the CSV dialect
by DuckDB's sniffer (which samples the file), and encodings DuckDB cannot read are transcoded to UTF-8 in
fixed-size chunks.
"""

from __future__ import annotations

import codecs
import gzip
import secrets
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import duckdb

from focusbase.ingest.file_errors import ImportFileError as ImportFileError
from focusbase.ingest.file_errors import engine_failure, is_engine_failure
from focusbase.ingest.limits import FileLimits, check_csv_header, check_parquet_footer, text_size, too_large
from focusbase.ingest.mapping import text_encoding

FileFormat = Literal["csv", "parquet"]

# Encodings DuckDB's CSV reader handles itself; any other one is transcoded to UTF-8 first.
NATIVE_ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-16": "utf-16",
    "utf16": "utf-16",
    "latin-1": "latin-1",
}
TRANSCODE_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class FileShape:
    """What the sniffer found out about a file."""

    path: Path  # the file DuckDB reads (a UTF-8 transcoded copy when the encoding needed it)
    format: FileFormat
    compression: Literal["gzip", "none"]
    encoding: str | None  # None for Parquet
    delimiter: str | None
    quote: str | None
    escape: str | None
    header: list[str]
    size: int
    date_formats: dict[str, str] = field(default_factory=dict)  # source column -> non-ISO strptime format
    bom: bool = False
    transcoded_from: str | None = None
    text_bytes: int | None = None  # bytes once decompressed (Parquet: uncompressed); None: only known large

    def to_json(self) -> dict[str, Any]:
        """The camelCase JSON form."""
        return {
            "format": self.format,
            "compression": self.compression,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "columns": self.header,
            "byteOrderMark": self.bom,
            "transcodedFrom": self.transcoded_from,
        }


def _head(path: Path, n: int = 4096) -> tuple[bytes, bool]:
    with path.open("rb") as fh:
        raw = fh.read(n)
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as gz:
                return gz.read(n), True
        except (OSError, EOFError, zlib.error) as exc:
            raise ImportFileError(
                "unreadable_file", f"the file looks gzip-compressed but is not: {exc}"
            ) from None
    return raw, False


def _canonical_encoding(name: str) -> str:
    try:
        return text_encoding(name)
    except ValueError as exc:
        raise ImportFileError("bad_encoding", str(exc)) from None


def sniff_file(
    path: Path,
    *,
    file_name: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    work_dir: Path | None = None,
    limits: FileLimits | None = None,
) -> FileShape:
    """Recognise a file; ImportFileError with a clear code and message when it cannot be read.

    A file in an encoding DuckDB does not read is transcoded to a UTF-8 copy in `work_dir` (default: next
    to the file); the returned shape's `path` is then that copy, which the caller deletes. `limits` are
    checked on what is cheap to see first (the header, a Parquet footer, the transcoded bytes), before
    DuckDB parses the file.
    """
    limits = limits or FileLimits()
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError(
            "empty_file", "the file is empty (0 bytes): send a CSV with a header row, or Parquet"
        )
    head, gz = _head(path)
    compression: Literal["gzip", "none"] = "gzip" if gz else "none"
    name = (file_name or path.name).lower()
    if head[:4] == b"PAR1":
        uncompressed = check_parquet_footer(path, limits)
        return replace(_sniff_parquet(path, size), text_bytes=uncompressed)
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise ImportFileError("empty_file", "the file holds no data: not even a header row")
    stripped = head.lstrip(b"\xef\xbb\xbf \r\n\t")
    if name.endswith((".json", ".ndjson", ".jsonl", ".json.gz", ".ndjson.gz", ".jsonl.gz")) or stripped[
        :1
    ] in (
        b"{",
        b"[",
    ):
        # DuckDB reads JSON numbers as doubles, which would round money: JSON goes through the push API,
        # whose parser keeps every digit.
        raise ImportFileError(
            "unsupported_format",
            "JSON files are not imported as files (their numbers would be read as floats): push them with "
            "POST /api/v1/public/ingest/focus/{connectionId} or `focusbase push`, or import CSV or Parquet",
        )
    bom = head.startswith(b"\xef\xbb\xbf")
    detected = "utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8"
    wanted = _canonical_encoding(encoding) if encoding else _canonical_encoding(detected)
    native = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "latin-1", "latin-1": "latin-1"}.get(wanted)
    read_path, transcoded = path, None
    measured = text_size(path, gz, limits)  # before DuckDB reads it: a gzip bomb stops here
    if native is None:
        read_path = _transcode(path, wanted, gz, work_dir or path.parent, limits.max_decompressed_bytes)
        native, transcoded, compression = "utf-8", wanted, "none"
    try:
        check_csv_header(read_path, compression == "gzip", native, delimiter, limits)
        shape = _sniff_csv(
            read_path, size, compression, native, delimiter, bom=bom, transcoded_from=transcoded
        )
        return replace(shape, text_bytes=read_path.stat().st_size if transcoded else measured)
    except BaseException:
        if transcoded:
            read_path.unlink(missing_ok=True)
        raise


def _transcode(path: Path, encoding: str, gz: bool, work_dir: Path, max_bytes: int | None) -> Path:
    """Write a UTF-8 copy of the file into work_dir, decoding chunk by chunk, up to `max_bytes` read."""
    target = work_dir / f"{path.name}.{secrets.token_hex(4)}.utf8.csv"
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    opener = gzip.open if gz else open
    offset = 0
    try:
        with opener(path, "rb") as src, target.open("w", encoding="utf-8", newline="") as out:
            while chunk := src.read(TRANSCODE_CHUNK):
                out.write(decoder.decode(chunk))
                offset += len(chunk)
                if max_bytes is not None and offset > max_bytes:
                    raise too_large(max_bytes)
            out.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        target.unlink(missing_ok=True)
        raise ImportFileError(
            "bad_encoding", f"the file is not valid {encoding}: byte {offset + exc.start}: {exc.reason}"
        ) from None
    except UnicodeError as exc:
        target.unlink(missing_ok=True)
        raise ImportFileError("bad_encoding", f"the file is not valid {encoding}: {exc}") from None
    except (OSError, EOFError, zlib.error) as exc:
        target.unlink(missing_ok=True)
        raise ImportFileError("unreadable_file", f"the file cannot be read: {exc}") from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection for reading one file (UTC session time zone)."""
    conn = duckdb.connect(":memory:")
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def duckdb_message(exc: Exception) -> str:
    """The useful first lines of a DuckDB error (its reader errors name the line and the problem)."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    keep: list[str] = []
    for ln in lines:
        if ln.startswith(("file =", "delimiter =", "LINE ", "Possible Solution")):
            break
        keep.append(ln)
    message = " ".join(keep[:3]) or text
    for prefix in ("Invalid Input Error: ", "Conversion Error: ", "IO Error: "):
        message = message.replace(prefix, "")
    return message


def csv_error(exc: Exception, encoding: str | None) -> ImportFileError:
    """A DuckDB CSV reader error as an ImportFileError with a useful code."""
    if isinstance(exc, duckdb.Error) and is_engine_failure(exc):
        return engine_failure(exc, "reading the CSV file")
    message = duckdb_message(exc)
    if "unicode" in message.lower() or "encod" in message.lower():
        return ImportFileError(
            "bad_encoding",
            f"{message.rstrip('.')}. The file is not {encoding or 'utf-8'}: pass its encoding, "
            "e.g. options.encoding='latin-1' or 'cp1252'",
        )
    return ImportFileError("unreadable_file", f"the CSV file cannot be read: {message}")


def _sniff_csv(
    path: Path,
    size: int,
    compression: Literal["gzip", "none"],
    encoding: str,
    delimiter: str | None,
    *,
    bom: bool,
    transcoded_from: str | None,
) -> FileShape:
    conn = connect()
    try:
        row: tuple[Any, ...] | None
        if delimiter:
            try:
                row = conn.execute(
                    "SELECT Delimiter, Quote, Escape, Columns, DateFormat, TimestampFormat "
                    "FROM sniff_csv(?, encoding = ?, delim = ?, header = true, compression = ?, "
                    "sample_size = 4096)",
                    [str(path), encoding, delimiter, compression],
                ).fetchone()
            except duckdb.InvalidInputException:
                # The sniffer gives up on inconsistent rows; read with the given delimiter and RFC 4180
                # quoting, and let the reader name the offending line.
                row = (delimiter, '"', '"', [], None, None)
        else:
            row = conn.execute(
                "SELECT Delimiter, Quote, Escape, Columns, DateFormat, TimestampFormat "
                "FROM sniff_csv(?, encoding = ?, header = true, compression = ?, sample_size = 4096)",
                [str(path), encoding, compression],
            ).fetchone()
        assert row is not None
        delim, quote, escape, columns, date_fmt, ts_fmt = row
        quote = "" if quote == "(empty)" else quote
        escape = "" if escape == "(empty)" else escape
        header_row = conn.execute(
            "SELECT * FROM read_csv(?, header = false, all_varchar = true, delim = ?, quote = ?, escape = ?, "
            "encoding = ?, null_padding = true, parallel = false, compression = ?) LIMIT 1",
            [str(path), delim, quote, escape, encoding, compression],
        ).fetchone()
    except duckdb.Error as exc:
        raise csv_error(exc, encoding) from None
    finally:
        conn.close()
    if header_row is None:
        raise ImportFileError("empty_file", "the file holds no data: not even a header row")
    header = [("" if v is None else str(v)).strip() for v in header_row]
    if delimiter is None and len(header) == 1:
        # Ragged rows can make the sniffer settle on "one column"; a header with a usual delimiter in it
        # is read with that delimiter instead, so the real problem (a row's field count) gets reported.
        counts = {d: header[0].count(d) for d in (",", ";", "\t", "|")}
        best = max(counts, key=lambda d: counts[d])
        if counts[best]:
            return _sniff_csv(
                path, size, compression, encoding, best, bom=bom, transcoded_from=transcoded_from
            )
    _check_header(header)
    date_formats: dict[str, str] = {}
    for name, col in zip(header, columns, strict=False):
        if col["type"] == "DATE" and date_fmt and date_fmt != "%Y-%m-%d":
            date_formats[name] = date_fmt
        elif (
            col["type"] == "TIMESTAMP" and ts_fmt and ts_fmt not in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
        ):
            date_formats[name] = ts_fmt
    return FileShape(
        path=path,
        format="csv",
        compression=compression,
        encoding=encoding,
        delimiter=delim,
        quote=quote,
        escape=escape,
        header=header,
        size=size,
        date_formats=date_formats,
        bom=bom,
        transcoded_from=transcoded_from,
    )


def _check_header(header: list[str]) -> None:
    named = len(header)
    while named and not header[named - 1]:
        named -= 1
    if 0 < named < len(header):
        raise ImportFileError(
            "ragged_rows",
            f"rows have more fields ({len(header)}) than the header has names ({named}): "
            "every row must have as many fields as the header",
        )
    blank = [i + 1 for i, h in enumerate(header) if not h]
    if blank:
        raise ImportFileError(
            "invalid_header",
            f"the header row has empty column names (positions {blank}); every column needs a name",
        )
    seen: dict[str, int] = {}
    dupes: list[str] = []
    for h in header:
        seen[h] = seen.get(h, 0) + 1
        if seen[h] == 2:
            dupes.append(h)
    if dupes:
        raise ImportFileError(
            "duplicate_columns",
            f"the header names these columns more than once: {', '.join(repr(d) for d in dupes)}; "
            "rename them so each column has one name",
            {"columns": dupes},
        )


def _sniff_parquet(path: Path, size: int) -> FileShape:
    conn = connect()
    try:
        header = list(conn.read_parquet(str(path)).columns)
    except duckdb.Error as exc:
        if is_engine_failure(exc):
            raise engine_failure(exc, "reading the Parquet file") from None
        raise ImportFileError(
            "unreadable_file", f"the Parquet file cannot be read: {duckdb_message(exc)}"
        ) from None
    finally:
        conn.close()
    _check_header(header)
    return FileShape(path, "parquet", "none", None, None, None, None, header, size)
