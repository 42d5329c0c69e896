"""Reverting a committed batch: what it replaced is live again and its own rows are retired, atomically."""

from __future__ import annotations

from focusbase.ingest.batches import load_batch, now
from focusbase.ingest.model import Batch, IngestError
from focusbase.runtime import Runtime
from focusbase.storage import batches as store
from focusbase.storage import cost_rows


def revert_batch(runtime: Runtime, batch: Batch) -> Batch:
    """Restore what a committed batch replaced and retire its own rows, in one transaction."""
    with runtime.warehouse.transaction() as cur:
        record = store.get(cur, batch.id)
        if record is None:
            raise IngestError(404, "not_found", f"batch {batch.id} not found")
        current = Batch.from_record(record)
        if current.status != "committed":
            raise IngestError(
                409,
                "revert_conflict",
                f"batch {current.id} is {current.status}; only a committed batch is reverted",
            )
        check = cost_rows.revert_check(cur, current.dataset, current.id, current.provider_id)
        expected = int((current.replaced or {}).get("rows", 0))
        if check.own_rows_superseded:
            raise IngestError(
                409,
                "revert_conflict",
                f"{check.own_rows_superseded} rows of batch {current.id} were replaced by later batches; "
                "revert those first",
            )
        if check.later_rows_on_restored_days:
            raise IngestError(
                409,
                "revert_conflict",
                f"later batches stored {check.later_rows_on_restored_days} rows on the days this batch "
                "replaced; "
                "revert those first",
            )
        if check.replaced_rows_kept != expected:
            raise IngestError(
                409,
                "revert_unavailable",
                f"the {expected} rows batch {current.id} replaced are no longer kept (only the last "
                f"{runtime.settings.keep_superseded_versions} versions per day are); it cannot be reverted",
            )
        restored, retired, _ = cost_rows.revert(
            cur, current.dataset, current.id, current.provider_id, "revert:" + current.id
        )
        stamp = now()
        store.update(
            cur,
            current.id,
            {
                "status": "reverted",
                "progress": {
                    "revertedAt": stamp.isoformat() + "Z",
                    "rowsRestored": restored,
                    "rowsRetired": retired,
                },
                "updated_at": stamp,
            },
        )
    return load_batch(runtime, batch.id)
