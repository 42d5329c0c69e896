"""create_app(settings) -> the ASGI app. The lifespan opens storage and starts background workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from focusbase import __version__
from focusbase.api import errors, openapi
from focusbase.api.middleware import RequestContextMiddleware
from focusbase.api.ratelimit import RateLimiter, limiter_for
from focusbase.api.routers import ROUTERS
from focusbase.config import Settings, uses_catalog_rate_limits
from focusbase.observability import Metrics, reset_metrics, use_metrics
from focusbase.runtime import Runtime
from focusbase.web import install as install_web


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for these settings; storage opens when the lifespan starts."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        # Background tasks started by the lifespan inherit this app's metrics.
        metrics_token = use_metrics(metrics)
        try:
            shared_limits = uses_catalog_rate_limits(
                settings
            )  # a misconfigured store fails before storage opens
            runtime = Runtime.open(settings)
            app.state.runtime = runtime
            shared = shared_limits and app.state.rate_limiter is default_limiter
            if shared:
                app.state.rate_limiter = limiter_for(settings, runtime.catalog)
            stored_batches = metrics.watch_batches(runtime.ingest.status_counts)
            try:
                await runtime.start()
                yield {}
            finally:
                metrics.registry.unregister(stored_batches)
                if shared:
                    app.state.rate_limiter = default_limiter  # it held the catalog that closes now
                await runtime.stop()
        finally:
            reset_metrics(metrics_token)

    app = FastAPI(
        title="focusbase",
        version=__version__,
        summary="A self-hostable, FOCUS-native cost data server.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    # In memory until the lifespan opens the catalog, which may hold the buckets instead (a limiter set by
    # the caller before then is kept).
    default_limiter = app.state.rate_limiter = RateLimiter.from_settings(settings)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    errors.install(app)
    for router in ROUTERS():
        app.include_router(router)
    openapi.install(app)
    install_web(app)
    return app
