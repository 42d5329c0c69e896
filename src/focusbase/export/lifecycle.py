"""Server lifecycle hooks for export: recover interrupted jobs, start the worker, stop it cleanly."""

from __future__ import annotations

import asyncio
import logging

from focusbase.export import service
from focusbase.export.runner import ExportRunner
from focusbase.runtime import Runtime

log = logging.getLogger(__name__)

# One runner per open runtime (a process normally has one; tests open several in turn).
_RUNNERS: dict[int, ExportRunner] = {}


async def on_startup(runtime: Runtime) -> None:
    """Requeue (or fail) jobs a previous process left Processing, then start the worker and expiry sweep."""
    await asyncio.to_thread(service.check_exports_dir, runtime.settings)  # ExportDirUnusable stops the start
    # The only process on an embedded catalog owns every Processing job it finds; replicas sharing a
    # PostgreSQL catalog take back only jobs whose runner's lease ran out (or that had none).
    shared = runtime.catalog.dialect != "sqlite"
    requeued, failed = await asyncio.to_thread(
        service.recover_jobs, runtime.settings, runtime.catalog, expired_only=shared
    )
    if requeued or failed:
        log.warning("export recovery: %d interrupted job(s) requeued, %d failed", requeued, failed)
    runner = ExportRunner(runtime)
    _RUNNERS[id(runtime)] = runner
    runtime.tasks.append(asyncio.create_task(runner.loop(), name="export runner"))
    runtime.tasks.append(asyncio.create_task(runner.sweep_loop(), name="export expiry sweep"))


async def on_shutdown(runtime: Runtime) -> None:
    """Interrupt running exports (they resume on the next start) before storage closes."""
    runner = _RUNNERS.pop(id(runtime), None)
    if runner is not None:
        await runner.stop()


def notify(runtime: Runtime) -> None:
    """Wake this runtime's export worker (a job was just created)."""
    runner = _RUNNERS.get(id(runtime))
    if runner is not None:
        runner.notify()
