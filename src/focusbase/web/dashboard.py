"""Page: Dashboard, month to date, last 30 days, top services and providers, movers and freshness (read)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from focusbase.analytics.dashboard import COST_METRICS, build_dashboard
from focusbase.analytics.explorer import ExplorerError
from focusbase.analytics.model import QueryError
from focusbase.query.filters import Scope
from focusbase.web.charts import twins
from focusbase.web.core import WebError, render, signed_in

router = APIRouter(include_in_schema=False)


def parse_day(text: str | None, name: str) -> date | None:
    """A YYYY-MM-DD form field; a 400 page naming the field otherwise."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise WebError(400, "Invalid date", f"{name}: {text!r} is not a date YYYY-MM-DD") from None


def explorer_link(start: str, end: str, **extra: str) -> str:
    """The Data Explorer URL of a dashboard tile (one click from tile to explorer)."""
    params = [("metric", extra.pop("metric", "EffectiveCost")), ("grain", extra.pop("grain", "day"))]
    params += [("g", extra.pop("g"))] if "g" in extra else []
    params += [("start", start), ("end", end), *extra.items()]
    return "/explorer?" + urlencode(params)


@router.get("/dashboard")
async def dashboard(request: Request, metric: str = "EffectiveCost", asOf: str | None = None) -> Response:
    """The dashboard of the key's scope, per billing currency."""
    page = signed_in(request)
    principal = page.require("read")
    runtime = page.runtime
    if metric not in COST_METRICS:
        raise WebError(400, "Invalid metric", f"metric must be one of {', '.join(COST_METRICS)}")
    scope = Scope(workspace_id=principal.workspace_id, provider_ids=principal.provider_ids)
    try:
        data: dict[str, Any] = await run_in_threadpool(
            build_dashboard,
            runtime.explorer,
            runtime.insights,
            runtime.catalog,
            runtime.settings,
            scope,
            metric=metric,
            as_of=parse_day(asOf, "asOf"),
        )
    except QueryError as exc:
        raise WebError(400, "Invalid dashboard request", str(exc)) from exc
    except ExplorerError as exc:
        raise WebError(exc.status, "The dashboard could not be computed", exc.message) from exc
    last30 = data["windows"]["last30Days"]
    return render(
        page,
        "dashboard.html",
        data=data,
        metric=metric,
        metrics=COST_METRICS,
        as_of=asOf or "",
        daily=twins(data["last30Days"], "day", lambda row: metric),
        empty=not (data["monthToDate"] or data["last30Days"] or data["topServices"]),
        has_data=any(f["lastDay"] for f in data["freshness"]),
        link=explorer_link,
        last30=last30,
    )
