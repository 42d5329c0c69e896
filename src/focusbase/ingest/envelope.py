"""The push payload: the stackspend.focus envelope, a plain JSON array of rows, or NDJSON, as an Arrow table.

Every cell becomes a nullable string holding the value exactly as sent: JSON numbers keep their literal text
(jiter's lossless floats, so `12.50` stays `12.50`), objects and arrays become compact JSON text, booleans
become `true`/`false`. Typing and format checks are the validator's job, not the parser's.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import jiter
import orjson
import pyarrow as pa

ENVELOPE_FORMAT = "stackspend.focus"
ENVELOPE_VERSIONS = ("1",)
DATASETS = ("CostAndUsage", "ContractCommitment")


class PayloadError(ValueError):
    """The payload is not a readable envelope, JSON array of row objects, or NDJSON."""


@dataclass(frozen=True, slots=True)
class Rows:
    """Parsed row objects (not yet a table) plus the envelope fields (None when absent)."""

    rows: list[dict[str, Any]]
    format: str | None = None
    version: str | None = None
    dataset: str | None = None


@dataclass(frozen=True, slots=True)
class Census:
    """The keys of a payload's rows: every distinct name in first-seen order, and its widest row's x_ keys.

    Counting keys costs one pass over the rows' key views; building a table costs rows x distinct keys, so
    limits are checked on the census before any table exists.
    """

    names: list[str]
    custom: int  # distinct x_ names over all rows
    widest_row: int  # 1-based number of the row with the most x_ keys (0 when there are no rows)
    widest_custom: int  # how many x_ keys that row has


@dataclass(frozen=True, slots=True)
class Payload:
    """A parsed payload: its rows as an all-string Arrow table plus the envelope fields (None when absent)."""

    table: pa.Table
    format: str | None
    version: str | None
    dataset: str | None
    row_count: int


def parse_json_payload(data: bytes) -> Payload:
    """Parse an envelope, a plain JSON array of row objects, or NDJSON into a Payload."""
    parsed = parse_rows(data)
    return as_payload(parsed, census(parsed.rows))


def parse_rows(data: bytes) -> Rows:
    """Parse an envelope, a plain JSON array of row objects, or NDJSON into row objects."""
    # The parse allocates one dict per row and no reference cycles: the cyclic collector would only rescan
    # them again and again (about a third of the parse time), so it is paused meanwhile.
    with _collector_paused():
        return _parse(data)


def as_payload(parsed: Rows, counted: Census) -> Payload:
    """The rows as an all-string table with the census's columns."""
    with _collector_paused():
        table = rows_to_table(parsed.rows, counted.names)
    return Payload(
        table=table,
        format=parsed.format,
        version=parsed.version,
        dataset=parsed.dataset,
        row_count=len(parsed.rows),
    )


def census(rows: list[dict[str, Any]]) -> Census:
    """Every distinct key of the rows in first-seen order, and the row with the most x_ keys."""
    keys: dict[str, None] = {}
    previous: Any = None
    widest_row = widest = 0
    for number, row in enumerate(rows, start=1):
        # Rows of one payload nearly always share their keys; only look at key views when they change.
        current = row.keys()
        if current != previous:
            keys.update(dict.fromkeys(current))
            custom = sum(1 for key in current if key.startswith("x_"))
            if custom > widest:
                widest_row, widest = number, custom
            previous = current
    names = list(keys)
    return Census(names, sum(1 for key in names if key.startswith("x_")), widest_row, widest)


@contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse(data: bytes) -> Rows:
    text = data.lstrip()
    if not text:
        raise PayloadError("the payload is empty; send a JSON envelope, a JSON array of rows, or NDJSON")
    try:
        parsed = jiter.from_json(text, float_mode="lossless-float", cache_mode="all")
    except ValueError as exc:
        if text[:1] == b"{" and b"\n" in text.rstrip():
            return Rows(_parse_ndjson(text))
        raise PayloadError(f"the payload is not valid JSON: {exc}") from None
    if isinstance(parsed, list):
        return Rows(_check_rows(parsed))
    if isinstance(parsed, dict):
        if "rows" in parsed or "format" in parsed:
            return _envelope(parsed)
        # A single-line NDJSON payload is one row object.
        return Rows([parsed])
    raise PayloadError(f"the payload is a JSON {_json_type(parsed)}; expected an object or an array of rows")


def _envelope(obj: dict[str, Any]) -> Rows:
    fmt = obj.get("format")
    if fmt != ENVELOPE_FORMAT:
        raise PayloadError(f'envelope "format" must be "{ENVELOPE_FORMAT}", got {_show(fmt)}')
    version = obj.get("version")
    if version not in ENVELOPE_VERSIONS:
        raise PayloadError(f'envelope "version" must be "1" (a string), got {_show(version)}')
    dataset = obj.get("dataset")
    if dataset is not None and dataset not in DATASETS:
        raise PayloadError(f'envelope "dataset" must be one of {", ".join(DATASETS)}, got {_show(dataset)}')
    if "rows" not in obj:
        raise PayloadError('envelope has no "rows" array')
    rows = obj["rows"]
    if not isinstance(rows, list):
        raise PayloadError(f'envelope "rows" must be an array of row objects, got a JSON {_json_type(rows)}')
    return Rows(_check_rows(rows), fmt, version, dataset)


def _parse_ndjson(text: bytes) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        rows = jiter.from_json(b"[" + b",".join(lines) + b"]", float_mode="lossless-float", cache_mode="all")
    except ValueError:
        for number, line in enumerate(lines, start=1):
            try:
                jiter.from_json(line, float_mode="lossless-float", cache_mode="all")
            except ValueError as exc:
                raise PayloadError(f"NDJSON line {number} is not valid JSON: {exc}") from None
        raise PayloadError("the payload is neither valid JSON nor valid NDJSON") from None
    return _check_rows(rows)


def _check_rows(rows: list[Any]) -> list[dict[str, Any]]:
    if set(map(type, rows)) - {dict}:
        index = next(i for i, row in enumerate(rows) if type(row) is not dict)
        raise PayloadError(f"row {index + 1} is a JSON {_json_type(rows[index])}, not an object")
    return rows


def rows_to_table(rows: list[dict[str, Any]], names: list[str] | None = None) -> pa.Table:
    """Turn row objects into a table of nullable string columns, keys in first-seen order."""
    if names is None:
        names = census(rows).names
    if not names:
        return pa.table({})
    try:
        # Every row has every key (the usual case): one C-level pass per column, no per-row tuples.
        values: list[Any] = [list(map(itemgetter(name), rows)) for name in names]
    except KeyError:
        values = [[row.get(key) for row in rows] for key in names]
    return pa.table([_column(column) for column in values], names=names)


_NONE = type(None)
_NUMBERS = {_NONE, int, jiter.LosslessFloat}
_OBJECTS = {_NONE, dict, list}


def _column(values: Sequence[Any]) -> pa.Array:
    kinds = set(map(type, values))
    if kinds <= {_NONE, str}:
        # Strings and nulls convert in C.
        return pa.array(values, type=pa.string()) if str in kinds else pa.nulls(len(values), pa.string())
    if kinds <= _NUMBERS:
        if _NONE in kinds:
            return pa.array([None if v is None else str(v) for v in values], type=pa.string())
        return pa.array(list(map(str, values)), type=pa.string())
    if kinds <= _OBJECTS:
        # Objects and arrays (tags, say) as compact JSON text.
        return pa.array(_json_texts(values), type=pa.string())
    return pa.array([_TEXT.get(type(v), _other_text)(v) for v in values], type=pa.string())


# orjson escapes every control character inside strings, so this array element is the only way the text
# `,"\u0001",` arises at the top level; only an array nested in a value can contain it too, and then the split
# yields more pieces than values and the values are serialised one by one instead.
_SEPARATOR = "\x01"
_SEPARATOR_TEXT = ',"\\u0001",'


def _json_texts(values: Sequence[Any]) -> list[str | None]:
    """Compact JSON text of each object or array (None stays None), in one orjson call when possible."""
    present = [v for v in values if v is not None]
    if not present:
        return [None] * len(values)
    # One dumps call of [v1, SEP, v2, SEP, ...] split at the separators is ~8x faster than a call per value.
    interleaved: list[Any] = [_SEPARATOR] * (2 * len(present) - 1)
    interleaved[::2] = present
    try:
        texts = orjson.dumps(interleaved, default=_lossless_default).decode()[1:-1].split(_SEPARATOR_TEXT)
    except TypeError:  # an integer beyond 64 bits somewhere: the values one by one, exactly
        texts = []
    if len(texts) != len(present):
        texts = [_json_text(v) for v in present]
    if len(present) == len(values):
        return list(texts)
    pieces = iter(texts)
    return [None if v is None else next(pieces) for v in values]


def _lossless_default(value: Any) -> Any:
    if isinstance(value, jiter.LosslessFloat):
        return orjson.Fragment(bytes(value))
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value, default=_lossless_default).decode()
    except TypeError:
        pass
    # orjson writes integers up to 64 bits; a longer one is kept as its exact digits.
    try:
        return orjson.dumps(_big_integers_as_text(value), default=_lossless_default).decode()
    except (TypeError, RecursionError):
        raise PayloadError("a value nests objects or arrays too deeply to be stored") from None


def _big_integers_as_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return orjson.Fragment(str(value).encode())
    if isinstance(value, dict):
        return {k: _big_integers_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_big_integers_as_text(v) for v in value]
    return value


def _other_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | jiter.LosslessFloat):
        return str(value)
    return _json_text(value)


_TEXT: dict[type, Callable[[Any], str | None]] = {
    type(None): lambda v: None,
    str: lambda v: v,
    bool: lambda v: "true" if v else "false",
    int: str,
    jiter.LosslessFloat: str,
    dict: _json_text,
    list: _json_text,
}


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f'"{value}"'
    return f"a JSON {_json_type(value)}"
