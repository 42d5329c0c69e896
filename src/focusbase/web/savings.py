"""Page: Savings, commitment utilisation, coverage, savings rate and savings vs list and contracted (read)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from focusbase.analytics.explorer import ExplorerError
from focusbase.analytics.model import QueryError
from focusbase.analytics.savings import build_savings
from focusbase.query.filters import Scope
from focusbase.web.core import WebError, render, signed_in
from focusbase.web.dashboard import parse_day

router = APIRouter(include_in_schema=False)


@router.get("/savings")
async def savings(request: Request, start: str | None = None, end: str | None = None) -> Response:
    """Savings per currency and per commitment over [start, end) for the key's scope."""
    page = signed_in(request)
    principal = page.require("read")
    scope = Scope(workspace_id=principal.workspace_id, provider_ids=principal.provider_ids)
    first, after = parse_day(start, "From"), parse_day(end, "To")
    error: str | None = None
    data: dict[str, Any] | None = None
    try:
        data = await run_in_threadpool(
            build_savings, page.runtime.insights, page.runtime.settings, scope, start=first, end=after
        )
    except QueryError as exc:
        error = f"{'To' if exc.field == 'end' else exc.field}: {exc.message}"
    except ExplorerError as exc:
        raise WebError(exc.status, "Savings could not be computed", exc.message) from exc
    return render(
        page,
        "savings.html",
        status=400 if error else 200,
        data=data,
        error=error,
        start=start or "",
        end=end or "",
    )
