"""HTTP routes: push ingest, the StackSpend custom-provider request."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from focusbase.api.batches import (
    ENVELOPE_BODY,
    IngestKey,
    RuntimeDep,
    call,
    parse_time,
    provider_for,
    read_body,
)
from focusbase.api.openapi import error_responses
from focusbase.api.ratelimit import rate_limit
from focusbase.ingest import push as push_service

router = APIRouter(tags=["ingest"])


@router.post(
    "/api/v1/public/ingest/focus/{connection_id}",
    dependencies=[Depends(rate_limit("ingest"))],
    openapi_extra=ENVELOPE_BODY,
    responses=error_responses(
        409,
        413,
        415,
        422,
        s409="A request with the same Idempotency-Key is still running.",
        s413="Body or row count over the limits.",
        s415="A Content-Encoding other than gzip.",
        s422="Rows rejected (with errors), or an Idempotency-Key reused with another body.",
    ),
)
async def push_focus(
    connection_id: str,
    request: Request,
    principal: IngestKey,
    runtime: RuntimeDep,
    mode: str | None = Query(
        None, description="replace_days (default), replace_range, replace_months, append."
    ),
    start: str | None = Query(None, description="replace_range: inclusive start, ISO 8601 (UTC)."),
    end: str | None = Query(None, description="replace_range: exclusive end, ISO 8601 (UTC)."),
    allow_partial: bool = Query(
        False, alias="allowPartial", description="Store the valid rows, report the rest."
    ),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200),
) -> Any:
    """Push FOCUS rows for a provider (`{"format": "stackspend.focus", "version": "1", "rows": [...]}`)."""
    provider = provider_for(runtime, principal, connection_id)
    raw = await read_body(request, runtime.settings.max_body_bytes)
    outcome = await call(
        push_service.push,
        runtime,
        principal,
        provider,
        raw,
        content_encoding=request.headers.get("content-encoding"),
        mode=mode,
        start=parse_time(start, "start"),
        end=parse_time(end, "end"),
        allow_partial=allow_partial,
        idempotency_key=idempotency_key,
    )
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return Response(
        orjson.dumps(outcome.body), status_code=outcome.status, headers=headers, media_type="application/json"
    )
