"""Page: the spend forecast of a scope (a provider, one of its dimension values, or a saved view) per billing
currency.

The forecast itself is forecast_scope or forecast_view, the services behind GET /api/v1/forecasts, with the
same rules: read scope, a provider the key may use; a view runs with the key's own providers, as the explorer
runs it (the page's provider field does not narrow it). The page adds the recent actual days for the chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from focusbase.analytics.anomaly_service import money
from focusbase.analytics.forecast_service import forecast_scope, forecast_view
from focusbase.analytics.view_scopes import DEFAULT_METRIC, series_metric, view_cells
from focusbase.analytics.views import View, ViewError, get_view, list_views
from focusbase.query.filters import Scope
from focusbase.runtime import Runtime
from focusbase.storage import anomalies as store
from focusbase.tenancy.providers import list_providers
from focusbase.web.charts import Twin
from focusbase.web.core import WebError, render, signed_in

router = APIRouter(include_in_schema=False)

SCOPES = ("provider", *store.DIMENSIONS, "view")
ACTUAL_DAYS = 42
SERIES = ("Actual", "Forecast", "Low (10%)", "High (90%)")
ATTRIBUTE = {"ServiceName": "service", "SubAccountId": "account", "RegionId": "region"}


@dataclass(slots=True)
class Shown:
    """One currency's forecast as the API shapes it, and the chart's table (actual days, then forecast)."""

    data: dict[str, Any]
    twin: Twin
    rest: str  # the forecast of the month's remaining days


def _recent(
    runtime: Runtime, workspace_id: str, provider_id: str, dimension: str, value: str
) -> tuple[dict[str, dict[date, Any]], list[str]]:
    """Actual spend per currency and day (minus purchases, taxes and recurring charges, as forecast), and
    the values of the dimension seen in the last 90 days (for the scope value's suggestions)."""
    today = date.today()
    cells = runtime.series.daily_cells(workspace_id, provider_id, today - timedelta(days=730), today)
    values: list[str] = []
    if dimension != "provider":
        latest = max((c.day for c in cells), default=today)
        values = sorted(
            {getattr(c, ATTRIBUTE[dimension]) for c in cells if c.day > latest - timedelta(days=90)}
        )
        cells = [c for c in cells if getattr(c, ATTRIBUTE[dimension]) == value]
    return _daily(cells), values


def _daily(cells: list[store.DailyCell]) -> dict[str, dict[date, Any]]:
    daily: dict[str, dict[date, Any]] = {}
    for c in cells:
        per_day = daily.setdefault(c.currency, {})
        per_day[c.day] = per_day.get(c.day, 0) + (c.cost - c.expected)
    return daily


def _shown(item: dict[str, Any], actual: dict[date, Any]) -> Shown:
    last = date.fromisoformat(item["dataThrough"])
    twin = Twin(currency=item["currency"], series=list(SERIES))
    first = max(min(actual, default=last), last - timedelta(days=ACTUAL_DAYS - 1))
    for i in range((last - first).days + 1):
        day = first + timedelta(days=i)
        twin.xs.append(day.isoformat())
        twin.cells[(day.isoformat(), "Actual")] = money(actual.get(day, 0))
    rest = 0.0
    month = item["monthEnd"]["month"]
    for d in item["days"]:
        twin.xs.append(d["date"])
        twin.cells[(d["date"], "Forecast")] = d["expected"]
        twin.cells[(d["date"], "Low (10%)")] = d["lower"]
        twin.cells[(d["date"], "High (90%)")] = d["upper"]
        if d["date"].startswith(month):
            rest += float(d["expected"])
    return Shown(item, twin, money(rest))


def _forecast(
    runtime: Runtime, workspace_id: str, provider_id: str, dimension: str, value: str
) -> tuple[list[Shown], list[str]]:
    found = forecast_scope(runtime, workspace_id, provider_id, dimension, value)
    daily, values = _recent(runtime, workspace_id, provider_id, dimension, value)
    return [_shown(f.as_json(), daily.get(f.currency, {})) for f in found], values


def _view_forecast(runtime: Runtime, scope: Scope, view: View) -> list[Shown]:
    """The view's forecast as GET /api/v1/forecasts?scope=view gives it, with its recent actual days."""
    found = forecast_view(runtime, scope, view.query)
    today = date.today()
    daily = _daily(view_cells(runtime.series, scope, view.query, today - timedelta(days=730), today))
    return [_shown(f.as_json(), daily.get(f.currency, {})) for f in found]


@router.get("/forecasts")
async def forecasts(
    request: Request,
    provider: str | None = None,
    scope: str = "provider",
    scopeValue: str | None = None,
    view: str | None = None,
) -> Response:
    """The next days' spend of a scope with its 80% band, the month-end projection and the model chosen.

    A saved view is `scope=view&scopeValue=<view id>` as in the API; the form's view select sends `view`.
    """
    page = signed_in(request)
    principal = page.require("read")
    runtime = page.runtime
    providers = list_providers(runtime.catalog, principal.workspace_id, principal.provider_ids)
    views = list_views(runtime.catalog, runtime.settings, principal.workspace_id)
    if scope not in SCOPES:
        raise WebError(400, "Invalid scope", f"Scope must be one of {', '.join(SCOPES)}")
    value = (scopeValue or "").strip()
    view_id = ((view or "").strip() or value) if scope == "view" else ""
    chosen = provider or (providers[0].id if providers else "")
    error = None
    shown: list[Shown] = []
    values: list[str] = []
    chosen_view: View | None = None
    if chosen and not any(p.id == chosen for p in providers):
        # As the API: a provider the key may not use, or that does not exist, shows nothing of it.
        raise WebError(404, "No such provider", f"no provider {chosen} in this workspace")
    if scope == "view":
        if not view_id:
            error = "Saved view: choose which view to forecast"
        else:
            try:
                chosen_view = get_view(runtime.catalog, runtime.settings, principal.workspace_id, view_id)
            except ViewError as exc:
                raise WebError(exc.status, "No such view", exc.message) from exc
            allowed = Scope(principal.workspace_id, principal.provider_ids)
            shown = await run_in_threadpool(_view_forecast, runtime, allowed, chosen_view)
    elif chosen and scope != "provider" and not value:
        error = f"Scope value: choose which {scope} to forecast"
        _, values = await run_in_threadpool(_recent, page.runtime, principal.workspace_id, chosen, scope, "")
    elif chosen:
        shown, values = await run_in_threadpool(
            _forecast,
            page.runtime,
            principal.workspace_id,
            chosen,
            scope,
            value if scope != "provider" else chosen,
        )
    return render(
        page,
        "forecasts.html",
        status=400 if error else 200,
        providers=providers,
        provider=chosen,
        provider_name={p.id: p.name for p in providers}.get(chosen, chosen),
        scope=scope,
        scopes=SCOPES,
        scope_value=value if scope != "view" else "",
        values=values,
        views=views,
        view=chosen_view,
        view_id=view_id,
        metric=series_metric(chosen_view.query) if chosen_view else DEFAULT_METRIC,
        shown=shown,
        error=error,
    )
