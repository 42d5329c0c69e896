"""The batch-wide bound on custom (x_) columns: the union of every part's names, kept on the batch."""

from __future__ import annotations

import threading

from focusbase.focus import is_custom_column
from focusbase.ingest.model import too_many_custom_columns
from focusbase.runtime import Runtime

# Parts of one batch may be checked side by side: the union of their custom column names is taken under it.
_LOCK = threading.Lock()


def count(runtime: Runtime, batch_id: str, names: list[str]) -> None:
    """Add a part's custom (x_) column names to its batch's; 422 when they would exceed the batch limit.

    A refused part leaves the batch open and unchanged, so the sender can send it again without the columns.
    """
    custom = [name for name in names if is_custom_column(name)]
    if not custom:
        return
    limit = runtime.settings.max_custom_columns_per_batch
    with _LOCK:
        record = runtime.ingest.get(batch_id)
        known = (record or {}).get("custom_columns") or []
        new = sorted(set(custom) - set(known))
        if not new:
            return
        if len(known) + len(new) > limit:
            raise too_many_custom_columns(
                f"this part would bring batch {batch_id} to {len(known) + len(new)} distinct custom (x_) "
                f"columns; at most {limit} are accepted per batch (FOCUSBASE_MAX_CUSTOM_COLUMNS_PER_BATCH)",
                {
                    "batchId": batch_id,
                    "customColumns": len(known) + len(new),
                    "maxCustomColumnsPerBatch": limit,
                },
            )
        runtime.ingest.update(batch_id, {"custom_columns": [*known, *new]})
