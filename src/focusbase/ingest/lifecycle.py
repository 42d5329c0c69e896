"""Server lifecycle hooks for ingest: fail batches a previous process left open, expire open batches."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from focusbase.ingest.batches import INTERRUPTED, now
from focusbase.ingest.stager import busy_batches, wait_until_all_staged
from focusbase.runtime import Runtime
from focusbase.storage import batches as store
from focusbase.storage import cost_rows

log = logging.getLogger(__name__)
EXPIRY_INTERVAL_SECONDS = 300.0


def recover_interrupted(runtime: Runtime) -> list[str]:
    """Mark batches left open by a previous process failed (their staged rows go); returns their ids."""
    with runtime.warehouse.transaction() as cur:
        ids = store.open_batch_ids(cur)
        cost_rows.discard_all_staged(cur, ids)
        for batch_id in ids:
            store.update(
                cur,
                batch_id,
                {"status": "failed", "failure_reason": INTERRUPTED, "updated_at": now(), "expires_at": None},
            )
    return ids


def expire_open_batches(runtime: Runtime) -> list[str]:
    """Fail open batches past their expiry time (Settings.open_batch_ttl_hours after creation)."""
    with runtime.warehouse.transaction() as cur:
        busy = busy_batches()  # a part of these is being checked or staged right now: not idle
        ids = [
            batch_id for batch_id in store.open_batch_ids(cur, created_before=now()) if batch_id not in busy
        ]
        cost_rows.discard_all_staged(cur, ids)
        for batch_id in ids:
            store.update(
                cur,
                batch_id,
                {
                    "status": "failed",
                    "failure_reason": "expired: not committed within "
                    f"{runtime.settings.open_batch_ttl_hours} h",
                    "updated_at": now(),
                    "expires_at": None,
                },
            )
    return ids


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
