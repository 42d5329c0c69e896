"""Server lifecycle hook for tenancy: finish provider deletions a crash interrupted, before serving."""

from __future__ import annotations

import logging

from focusbase.runtime import Runtime
from focusbase.tenancy.providers import finish_deletions

log = logging.getLogger(__name__)


async def on_startup(runtime: Runtime) -> None:
    """Complete half-done provider deletions, so no request sees a provider deleted in only one database."""
    finished = finish_deletions(runtime.catalog, runtime.ingest)
    if finished.interrupted:
        log.warning(
            "finished %d provider deletions interrupted by a restart: %s",
            len(finished.interrupted),
            ", ".join(finished.interrupted),
        )
    if finished.leftover_rows:
        log.warning("deleted %d staged rows left by deleted providers", finished.leftover_rows)
    if finished.untombstoned_rows:
        log.warning(
            "deleted %d rows left behind by earlier deletions of providers %s",
            finished.untombstoned_rows,
            ", ".join(finished.untombstoned),
        )
