"""Server lifecycle hooks for anomaly detection: its background thread runs while the server does."""

from __future__ import annotations

import asyncio

from focusbase.analytics.anomaly_service import start_detection, stop_detection
from focusbase.runtime import Runtime


async def on_startup(runtime: Runtime) -> None:
    """Start the thread that runs detection after each commit."""
    start_detection(runtime)


async def on_shutdown(runtime: Runtime) -> None:
    """Let a running detection finish and drop queued ones (the next commit queues them again)."""
    await asyncio.to_thread(stop_detection, runtime)
