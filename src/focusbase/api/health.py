"""HTTP routes: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from focusbase.api.deps import get_runtime
from focusbase.api.errors import error_body
from focusbase.observability import Metrics
from focusbase.runtime import Runtime
from focusbase.storage.health import ping_catalog

router = APIRouter(tags=["operations"])
log = logging.getLogger("focusbase.health")


@router.get("/healthz", summary="Liveness: the process is up and serving.")
async def healthz() -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the catalog and the warehouse answer a query.",
    responses={503: {"description": "A database does not answer."}},
)
def readyz(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Any:
    """Readiness: the catalog and the warehouse answer a query."""
    checks: dict[str, str] = {}
    failures: list[str] = []
    probes: list[tuple[str, Callable[[], None]]] = [
        ("catalog", partial(ping_catalog, runtime.catalog)),
        ("warehouse", runtime.ingest.ping),
    ]
    for name, probe in probes:
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:
            log.warning("readiness check failed", extra={"check": name, "error": str(exc)})
            checks[name] = f"error: {exc}"
            failures.append(name)
    if failures:
        body = error_body("unavailable", f"not ready: {', '.join(failures)} did not answer", checks)
        return JSONResponse(body, status_code=503)
    return {"status": "ready", "checks": checks}


@router.get(
    "/metrics",
    summary="Prometheus metrics in the text exposition format.",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition."}},
)
def metrics(request: Request) -> Response:
    """Prometheus metrics in the text exposition format."""
    app_metrics: Metrics = request.app.state.metrics
    body, content_type = app_metrics.render()
    return Response(content=body, media_type=content_type)
