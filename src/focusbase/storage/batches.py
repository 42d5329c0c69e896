"""SQL for the `batches` table: the History of every ingest batch and its lifecycle state."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import orjson

# Columns of `batches` in table order; JSON columns are (de)serialised here.
COLUMNS: tuple[str, ...] = (
    "id",
    "workspace_id",
    "provider_id",
    "dataset",
    "source",
    "mode",
    "window_start",
    "window_end",
    "status",
    "rows_received",
    "line_items_created",
    "rows_rejected",
    "replaced",
    "sums",
    "defaults_applied",
    "errors",
    "error_count",
    "idempotency_key",
    "request_hash",
    "response",
    "key_id",
    "file_name",
    "file_size",
    "mapping",
    "progress",
    "failure_reason",
    "created_at",
    "updated_at",
    "committed_at",
    "expires_at",
    "custom_columns",
)
JSON_COLUMNS = frozenset(
    {"replaced", "sums", "defaults_applied", "errors", "response", "mapping", "progress", "custom_columns"}
)
OPEN_STATUSES = ("received", "validating")


class Conn(Protocol):
    """A DuckDB cursor (the embedded warehouse) or a catalog connection (the scale-out profile's batches)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...


_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM batches"  # noqa: S608 - our own column names


def _encode(name: str, value: Any) -> Any:
    if name in JSON_COLUMNS and value is not None:
        return orjson.dumps(value).decode()
    return value


def _decode(row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(COLUMNS, row, strict=True))
    for name in JSON_COLUMNS:
        if record[name] is not None:
            record[name] = orjson.loads(record[name])
    return record


def insert(cur: Conn, record: dict[str, Any]) -> None:
    """Insert a new batch row; missing columns take their defaults."""
    names = [name for name in COLUMNS if name in record]
    placeholders = ", ".join("?" for _ in names)
    cur.execute(
        f"INSERT INTO batches ({', '.join(names)}) VALUES ({placeholders})",  # noqa: S608 - names from COLUMNS
        [_encode(name, record[name]) for name in names],
    )


def update(cur: Conn, batch_id: str, fields: dict[str, Any]) -> None:
    """Set some columns of one batch (names must be batch columns)."""
    unknown = set(fields) - set(COLUMNS)
    if unknown:
        raise ValueError(f"not batch columns: {sorted(unknown)}")
    names = list(fields)
    assignments = ", ".join(f"{name} = ?" for name in names)
    cur.execute(
        f"UPDATE batches SET {assignments} WHERE id = ?",  # noqa: S608 - names checked against COLUMNS
        [*(_encode(name, fields[name]) for name in names), batch_id],
    )


def get(cur: Conn, batch_id: str, workspace_id: str | None = None) -> dict[str, Any] | None:
    """One batch by id (limited to a workspace when given)."""
    if workspace_id is None:
        rows = cur.execute(_SELECT + " WHERE id = ?", [batch_id]).fetchall()
    else:
        rows = cur.execute(
            _SELECT + " WHERE id = ? AND workspace_id = ?", [batch_id, workspace_id]
        ).fetchall()
    return _decode(rows[0]) if rows else None


def list_for_provider(
    cur: Conn,
    workspace_id: str,
    provider_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """Batches of a provider, newest first; `after` is the (created_at, id) of the last row already seen."""
    sql = _SELECT + " WHERE workspace_id = ? AND provider_id = ?"
    params: list[Any] = [workspace_id, provider_id]
    if after is not None:
        sql += " AND (created_at < ? OR (created_at = ? AND id < ?))"
        params += [after[0], after[0], after[1]]
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    params.append(limit)
    return [_decode(row) for row in cur.execute(sql, params).fetchall()]


def find_idempotent(
    cur: Conn, workspace_id: str, provider_id: str, key: str, since: datetime
) -> dict[str, Any] | None:
    """The latest batch that used an Idempotency-Key for this provider, if still remembered."""
    rows = cur.execute(
        _SELECT + " WHERE workspace_id = ? AND provider_id = ? AND idempotency_key = ? AND created_at >= ?"
        " ORDER BY created_at DESC LIMIT 1",
        [workspace_id, provider_id, key, since],
    ).fetchall()
    return _decode(rows[0]) if rows else None


def open_batch_ids(cur: Conn, *, created_before: datetime | None = None) -> list[str]:
    """Ids of batches still received or validating (optionally only those older than a time)."""
    sql = "SELECT id FROM batches WHERE status IN ('received', 'validating')"
    params: list[Any] = []
    if created_before is not None:
        sql += " AND coalesce(expires_at, created_at) < ?"
        params.append(created_before)
    return [row[0] for row in cur.execute(sql, params).fetchall()]


def open_batch_ids_for_provider(cur: Conn, provider_id: str) -> list[str]:
    """Open batches of one provider."""
    rows = cur.execute(
        "SELECT id FROM batches WHERE provider_id = ? AND status IN ('received', 'validating')", [provider_id]
    ).fetchall()
    return [row[0] for row in rows]


def every(cur: Conn) -> list[dict[str, Any]]:
    """Every batch, oldest first (for `focusbase migrate-storage`)."""
    return [_decode(row) for row in cur.execute(_SELECT + " ORDER BY created_at, id").fetchall()]
