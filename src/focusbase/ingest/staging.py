"""Validated parts held in memory until there are enough rows to stage them as whole DuckDB row groups.

DuckDB writes an append of a full row group (122,880 rows) straight into the database file, while smaller
appends go through the write-ahead log and are written again at the next checkpoint. Buffering parts of an
open batch up to that size halves the writing work of a large multi-part batch. Nothing is lost by holding
them: an open batch does not survive a restart anyway (it is marked failed), and the commit writes whatever
is still held in its own transaction. At most FLUSH_ROWS rows are held per open batch.
"""

from __future__ import annotations

import threading

import pyarrow as pa

from focusbase.storage.cost_rows import Prepared

FLUSH_ROWS = 122_880

_LOCK = threading.Lock()
_HELD: dict[str, list[Prepared]] = {}


def _same_shape(a: Prepared, b: Prepared) -> bool:
    return a.fills == b.fills and a.source.schema.equals(b.source.schema)


def _merge(parts: list[Prepared]) -> Prepared:
    if len(parts) == 1:
        return parts[0]
    return Prepared(pa.concat_tables([p.source for p in parts]), parts[0].fills)


def hold(batch_id: str, part: Prepared) -> list[Prepared]:
    """Keep a part of a batch; returns what must be staged now (a full row group, or an older shape)."""
    with _LOCK:
        held = _HELD.setdefault(batch_id, [])
        ready: list[Prepared] = []
        if held and not _same_shape(held[0], part):
            ready.append(_merge(held))
            held.clear()
        held.append(part)
        if sum(p.rows for p in held) >= FLUSH_ROWS:
            ready.append(_merge(held))
            held.clear()
        if not held:
            _HELD.pop(batch_id, None)
        return ready


def drain(batch_id: str) -> list[Prepared]:
    """Everything still held for a batch (for its commit), grouped by shape."""
    with _LOCK:
        held = _HELD.pop(batch_id, [])
    groups: list[list[Prepared]] = []
    for part in held:
        if groups and _same_shape(groups[-1][0], part):
            groups[-1].append(part)
        else:
            groups.append([part])
    return [_merge(group) for group in groups]


def drop(batch_id: str) -> None:
    """Forget what is held for a batch (failed, aborted, expired)."""
    with _LOCK:
        _HELD.pop(batch_id, None)


def held_rows(batch_id: str) -> int:
    """Rows held in memory for a batch."""
    with _LOCK:
        return sum(p.rows for p in _HELD.get(batch_id, []))
