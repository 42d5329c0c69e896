"""Running a large file import in the background of the server (the API's 202 and the web app's import)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from focusbase.ingest.imports import StartedImport, run_import
from focusbase.ingest.model import IngestError
from focusbase.runtime import Runtime

logger = logging.getLogger(__name__)


def run_import_in_background(runtime: Runtime, started: StartedImport, cleanup: Callable[[], None]) -> None:
    """Run the import on a thread as a server task; `cleanup` runs when it ends (deletes the upload)."""

    def work() -> None:
        try:
            run_import(runtime, started)
        finally:
            cleanup()

    async def runner() -> None:
        future = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            await asyncio.shield(future)
        except IngestError:
            pass  # a refusal: recorded on the batch (status failed, reason, row errors)
        except Exception:
            # run_import failed the batch with the reason; keep the traceback in the log.
            logger.exception("background import of batch %s failed", started.batch.id)
        except asyncio.CancelledError:
            # Server shutdown: the import stops at its next part and fails its batch; wait for that, so
            # the warehouse is not closed under it.
            started.cancel.set()
            with contextlib.suppress(Exception):
                await future
            raise

    task = asyncio.get_running_loop().create_task(runner())
    runtime.tasks.append(task)
    task.add_done_callback(lambda t: runtime.tasks.remove(t) if t in runtime.tasks else None)
