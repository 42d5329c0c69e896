"""Server lifecycle hooks for notifications: start the webhook delivery worker, stop it cleanly.

Pending deliveries live in the catalog, so a restart resumes them where they were.
"""

from __future__ import annotations

import asyncio

from focusbase.notify.worker import DeliveryWorker
from focusbase.runtime import Runtime

# One worker per open runtime (a process normally has one; tests open several in turn).
_WORKERS: dict[int, DeliveryWorker] = {}


async def on_startup(runtime: Runtime) -> None:
    """Start the delivery worker; it first sends whatever a previous process left due."""
    worker = DeliveryWorker(runtime)
    _WORKERS[id(runtime)] = worker
    runtime.tasks.append(asyncio.create_task(worker.loop(), name="webhook delivery worker"))


async def on_shutdown(runtime: Runtime) -> None:
    """Let deliveries under way finish and record their outcome before storage closes."""
    worker = _WORKERS.pop(id(runtime), None)
    if worker is not None:
        await worker.stop()


def wake(runtime: Runtime) -> None:
    """Wake this runtime's delivery worker (an event was just queued)."""
    worker = _WORKERS.get(id(runtime))
    if worker is not None:
        worker.notify()
