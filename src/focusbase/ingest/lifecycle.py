"""Server lifecycle hooks for ingest: fail batches a previous process left open, expire open batches."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from focusbase.ingest.batches import INTERRUPTED, now
from focusbase.ingest.stager import busy_batches, wait_until_all_staged
from focusbase.runtime import Runtime

log = logging.getLogger(__name__)
EXPIRY_INTERVAL_SECONDS = 300.0


def recover_interrupted(runtime: Runtime) -> list[str]:
    """Mark batches left open by a previous process failed (their staged rows go); returns their ids."""
    fields = {"status": "failed", "failure_reason": INTERRUPTED, "updated_at": now(), "expires_at": None}
    return runtime.ingest.fail_open(fields)


def expire_open_batches(runtime: Runtime) -> list[str]:
    """Fail open batches past their expiry time (Settings.open_batch_ttl_hours after creation)."""
    fields = {
        "status": "failed",
        "failure_reason": f"expired: not committed within {runtime.settings.open_batch_ttl_hours} h",
        "updated_at": now(),
        "expires_at": None,
    }
    # A part of a busy batch is being checked or staged right now: it is not idle.
    return runtime.ingest.fail_open(fields, created_before=now(), skip=busy_batches())


async def on_startup(runtime: Runtime) -> None:
    """Mark batches interrupted by a restart as failed, then start the open-batch expiry task."""
    interrupted = recover_interrupted(runtime)
    if interrupted:
        log.warning("marked %d interrupted batches failed: %s", len(interrupted), ", ".join(interrupted))
    runtime.tasks.append(asyncio.create_task(_expire_forever(runtime), name="ingest-batch-expiry"))


async def on_shutdown(runtime: Runtime) -> None:
    """Let the stager finish the parts it has accepted (a restart fails their batches, but cleanly)."""
    await run_in_threadpool(wait_until_all_staged)


async def _expire_forever(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(EXPIRY_INTERVAL_SECONDS)
        try:
            expired = await run_in_threadpool(expire_open_batches, runtime)
            if expired:
                log.info("expired %d open batches: %s", len(expired), ", ".join(expired))
        except Exception:
            log.exception("expiring open batches failed")
