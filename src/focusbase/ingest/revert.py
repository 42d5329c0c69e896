"""Reverting a committed batch: what it replaced is live again and its own rows are retired, atomically."""

from __future__ import annotations

from typing import Any

from focusbase.ingest.batches import load_batch, now
from focusbase.ingest.model import Batch, IngestError
from focusbase.runtime import Runtime
from focusbase.storage.ingest_store import RevertConflict, Reverted


def revert_batch(runtime: Runtime, batch: Batch) -> Batch:
    """Restore what a committed batch replaced and retire its own rows, in one atomic step of the store."""
    current = load_batch(runtime, batch.id)
    if current.status != "committed":
        raise IngestError(
            409,
            "revert_conflict",
            f"batch {current.id} is {current.status}; only a committed batch is reverted",
        )

    def fields(done: Reverted) -> dict[str, Any]:
        stamp = now()
        return {
            "status": "reverted",
            "progress": {
                "revertedAt": stamp.isoformat() + "Z",
                "rowsRestored": done.restored,
                "rowsRetired": done.retired,
            },
            "updated_at": stamp,
        }

    try:
        runtime.ingest.revert(batch.id, keep=runtime.settings.keep_superseded_versions, fields=fields)
    except RevertConflict as refused:
        raise IngestError(409, refused.code, refused.message) from None
    return load_batch(runtime, batch.id)
