"""The export worker inside the server: runs Pending jobs, at most `export_workers` at a time.

Each runner claims jobs under a name of its own (`service.new_claimant`) with a lease it renews while a job
runs, so the runners of several processes sharing a catalog split the jobs between them, and a job whose
runner died is taken back (requeued) by any runner once its lease has run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from concurrent.futures import ThreadPoolExecutor

from focusbase.export import service
from focusbase.runtime import Runtime
from focusbase.storage import exports as store
from focusbase.storage.exports import CopyHandle

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
SWEEP_SECONDS = 600.0


class ExportRunner:
    """Polls the catalog for Pending jobs (and is woken at once by new ones); each job runs in a thread."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.workers = max(1, runtime.settings.export_workers)
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._running: dict[str, tuple[asyncio.Task[None], CopyHandle]] = {}
        self._stopping = False
        self.claimant = service.new_claimant()
        self._next_take_back = 0.0
        # Threads of their own, one per worker: a claimed job starts at once (its lease keeper too) instead
        # of queueing behind other work in the event loop's shared pool while its lease runs out.
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="export")

    def notify(self) -> None:
        """A job was created: look for work now (callable from any thread)."""
        self._loop.call_soon_threadsafe(self._wake.set)

    async def loop(self) -> None:
        """Dispatch jobs until stopped."""
        while not self._stopping:
            try:
                await self._take_back_expired()
                await self._dispatch()
            except Exception:  # a busy or broken catalog must not end the worker; try again soon
                log.exception("export dispatch failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()

    async def sweep_loop(self) -> None:
        """Delete expired export files periodically (on the leader, when processes share a catalog)."""
        settings, catalog = self.runtime.settings, self.runtime.catalog
        while not self._stopping:
            try:
                # One process of those sharing a catalog and export directory sweeps: the leader.
                if self.runtime.leadership.is_leader:
                    expired = await asyncio.to_thread(service.sweep_expired, settings, catalog)
                    if expired:
                        log.info("deleted %d expired export file(s)", expired)
            except Exception:
                log.exception("export expiry sweep failed")
            await asyncio.sleep(SWEEP_SECONDS)

    async def _take_back_expired(self) -> None:
        # Every runner looks, each lease third: the first to see a claim run out takes the job back.
        now = self._loop.time()
        if now < self._next_take_back:
            return
        self._next_take_back = now + self.runtime.settings.export_lease_seconds / 3
        rt = self.runtime
        requeued, failed = await asyncio.to_thread(
            service.recover_jobs, rt.settings, rt.catalog, expired_only=True, unleased=False
        )
        if requeued or failed:
            log.warning("export jobs whose runner stopped: %d requeued, %d failed", requeued, failed)

    async def _dispatch(self) -> None:
        rt = self.runtime
        while not self._stopping and len(self._running) < self.workers:
            lease = service.lease_until(rt.settings)
            job = await asyncio.to_thread(store.claim_next_job, rt.catalog, self.claimant, lease)
            if job is None:
                return
            if self._stopping:  # stopped while claiming: the job goes back for the next start
                await asyncio.to_thread(
                    store.requeue_job, rt.catalog, job.id, service.SHUTDOWN_REQUEUE, self.claimant
                )
                return
            handle = CopyHandle()
            task = asyncio.create_task(self._run(job, handle), name=f"export {job.id}")
            self._running[job.id] = (task, handle)

    async def _run(self, job: store.JobRecord, handle: CopyHandle) -> None:
        rt = self.runtime
        try:
            run = functools.partial(
                service.run_claimed, rt.settings, rt.catalog, rt.exports, job, handle, self.claimant
            )
            await self._loop.run_in_executor(self._pool, run)
        except Exception:
            log.exception("export worker crashed on %s", job.id)
        finally:
            self._running.pop(job.id, None)
            self._wake.set()

    async def stop(self) -> None:
        """Interrupt running jobs (they go back to Pending) and wait for their threads to end."""
        self._stopping = True
        self._wake.set()
        running = list(self._running.values())
        for _, handle in running:
            handle.interrupt()
        for task, _ in running:
            with contextlib.suppress(Exception):
                await asyncio.shield(task)
        self._pool.shutdown(wait=False)
