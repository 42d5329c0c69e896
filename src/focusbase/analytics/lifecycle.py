"""Server lifecycle hook for anomaly detection: stop its background thread before storage closes."""

from __future__ import annotations

import asyncio

from focusbase.analytics.anomaly_service import stop_detection
from focusbase.runtime import Runtime


async def on_shutdown(runtime: Runtime) -> None:
    """Let a running detection finish and drop queued ones (the next commit queues them again)."""
    await asyncio.to_thread(stop_detection, runtime)
