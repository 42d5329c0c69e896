"""The export worker inside the server: runs Pending jobs, at most `export_workers` at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

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

    def notify(self) -> None:
        """A job was created: look for work now (callable from any thread)."""
        self._loop.call_soon_threadsafe(self._wake.set)

    async def loop(self) -> None:
        """Dispatch jobs until stopped."""
        while not self._stopping:
            try:
                self._dispatch()
            except Exception:  # a busy or broken catalog must not end the worker; try again soon
                log.exception("export dispatch failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()

    async def sweep_loop(self) -> None:
        """Delete expired export files periodically."""
        settings, catalog = self.runtime.settings, self.runtime.catalog
        while not self._stopping:
            try:
                expired = await asyncio.to_thread(service.sweep_expired, settings, catalog)
                if expired:
                    log.info("deleted %d expired export file(s)", expired)
            except Exception:
                log.exception("export expiry sweep failed")
            await asyncio.sleep(SWEEP_SECONDS)

    def _dispatch(self) -> None:
        free = self.workers - len(self._running)
        if free <= 0:
            return
        for job_id in store.pending_job_ids(self.runtime.catalog, free):
            if job_id in self._running:
                continue
            handle = CopyHandle()
            task = asyncio.create_task(self._run(job_id, handle), name=f"export {job_id}")
            self._running[job_id] = (task, handle)

    async def _run(self, job_id: str, handle: CopyHandle) -> None:
        rt = self.runtime
        try:
            await asyncio.to_thread(service.run_job, rt.settings, rt.catalog, rt.warehouse, job_id, handle)
        except Exception:
            log.exception("export worker crashed on %s", job_id)
        finally:
            self._running.pop(job_id, None)
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
