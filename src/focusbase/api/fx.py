"""HTTP routes: the workspace's currency conversion rates (`/api/v1/fx-rates`), loaded as CSV."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from focusbase.analytics.fx import MAX_LISTED, RatesError, describe_rates, load_rates
from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.api.ratelimit import rate_limit
from focusbase.runtime import Runtime
from focusbase.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1/fx-rates", tags=["analytics"], dependencies=[Depends(rate_limit("read"))])
Reader = Annotated[Principal, Depends(require_scope("read"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The CSV is not valid (invalid_rates names the line and column)."},
    401: {"description": "Missing or invalid API key."},
    403: {"description": "The key lacks the needed scope."},
    413: {"description": "The body is larger than max_body_bytes."},
}
_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "date,from,to,rate\n2026-01-02,EUR,USD,1.0345\n",
            }
        },
    }
}


class RatesOut(BaseModel):
    """The workspace's rates: how many, per pair, and the first ones."""

    rateCount: int
    pairs: list[dict[str, Any]]
    rates: list[dict[str, str]]


@router.put("", response_model=RatesOut, responses=_ERRORS, openapi_extra=_CSV_BODY)
async def put_rates(request: Request, principal: Admin, runtime: RuntimeDep) -> Response:
    """Replace the workspace's conversion rates with a CSV file (date,from,to,rate), admin scope."""
    body = await request.body()
    if len(body) > runtime.settings.max_body_bytes:
        raise ApiError(
            413, "payload_too_large", f"the body is larger than {runtime.settings.max_body_bytes} bytes"
        )
    try:
        loaded = load_rates(runtime.fx, runtime.settings, principal.workspace_id, body)
    except RatesError as exc:
        raise ApiError(400, "invalid_rates", exc.message, details=exc.field) from exc
    return Response(orjson.dumps(loaded), media_type="application/json")


@router.get("", response_model=RatesOut, responses=_ERRORS)
def get_rates(
    principal: Reader,
    runtime: RuntimeDep,
    limit: Annotated[
        int, Query(ge=0, le=MAX_LISTED, description="Rates listed (the count covers all).")
    ] = 1000,
) -> Response:
    """List the workspace's conversion rates: count, pairs and days covered, and the first rates."""
    return Response(
        orjson.dumps(describe_rates(runtime.fx, principal.workspace_id, limit=limit)),
        media_type="application/json",
    )
