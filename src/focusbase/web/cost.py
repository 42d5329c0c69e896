"""Page: Cost, live totals per provider and currency (read scope, as the FOCUS read API)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from focusbase.query.filters import Scope
from focusbase.query.totals import cost_totals, totals_per_currency
from focusbase.web.core import render, signed_in

router = APIRouter(include_in_schema=False)


@router.get("/cost")
async def cost(request: Request) -> Response:
    """Totals of the live cost rows the key can see, per provider and currency."""
    page = signed_in(request)
    principal = page.require("read")
    runtime = page.runtime
    scope = Scope(workspace_id=principal.workspace_id, provider_ids=principal.provider_ids)
    totals = await run_in_threadpool(cost_totals, runtime.catalog, runtime.insights, scope)
    return render(page, "cost.html", totals=totals, per_currency=totals_per_currency(totals))
