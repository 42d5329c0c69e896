"""create_app(settings) -> the ASGI app. The lifespan opens storage and starts background workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

from focusbase import __version__
from focusbase.api import errors
from focusbase.api.routers import ROUTERS
from focusbase.config import Settings
from focusbase.runtime import Runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for these settings; storage opens when the lifespan starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        runtime = Runtime.open(settings)
        app.state.runtime = runtime
        try:
            await runtime.start()
            yield {}
        finally:
            await runtime.stop()

    app = FastAPI(
        title="focusbase",
        version=__version__,
        summary="A self-hostable, FOCUS-native cost data server.",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
    )
    app.state.settings = settings
    errors.install(app)
    for router in ROUTERS():
        app.include_router(router)
    return app
