"""Server lifecycle hooks for ingest: fail batches a previous process left open, expire open batches."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from focusbase.ingest.batches import expire_open_batches, recover_interrupted
from focusbase.runtime import Runtime

log = logging.getLogger(__name__)
EXPIRY_INTERVAL_SECONDS = 300.0


async def on_startup(runtime: Runtime) -> None:
    """Mark batches interrupted by a restart as failed, then start the open-batch expiry task."""
    interrupted = recover_interrupted(runtime)
    if interrupted:
        log.warning("marked %d interrupted batches failed: %s", len(interrupted), ", ".join(interrupted))
    runtime.tasks.append(asyncio.create_task(_expire_forever(runtime), name="ingest-batch-expiry"))


async def _expire_forever(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(EXPIRY_INTERVAL_SECONDS)
        try:
            expired = await run_in_threadpool(expire_open_batches, runtime)
            if expired:
                log.info("expired %d open batches: %s", len(expired), ", ".join(expired))
        except Exception:
            log.exception("expiring open batches failed")
