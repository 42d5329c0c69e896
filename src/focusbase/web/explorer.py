"""Pages: Data Explorer (the query in the URL, chart + table twin, CSV download) and its saved views.

Reading and opening views takes the read scope, saving and deleting them the admin scope, as the API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams

from focusbase.analytics.anomaly_service import schedule_view_detection
from focusbase.analytics.explorer import ExplorerError, run_query
from focusbase.analytics.model import (
    GRAINS,
    MAX_GROUP_BY,
    METRICS,
    OPS,
    SORTS,
    ExplorerQuery,
    QueryError,
    dimension_columns,
    parse_query,
)
from focusbase.analytics.results import result_csv, result_json
from focusbase.analytics.views import ViewError, create_view, delete_view, get_view, list_views
from focusbase.query.filters import Scope
from focusbase.tenancy.providers import list_providers
from focusbase.web.analytics_form import body_from_params, default_params, query_string
from focusbase.web.charts import twins
from focusbase.web.core import Page, WebError, base_url, check_csrf, finish, redirect, render, signed_in

router = APIRouter(include_in_schema=False)
FILTER_ROWS = 2  # empty filter rows the form offers besides the ones in use


def _scope(page: Page) -> Scope:
    principal = page.require("read")
    return Scope(workspace_id=principal.workspace_id, provider_ids=principal.provider_ids)


def _parse(page: Page, params: QueryParams) -> tuple[dict[str, Any], ExplorerQuery | None, QueryError | None]:
    body = body_from_params(params)
    try:
        return body, parse_query(body, max_groups=page.runtime.settings.explorer_max_groups), None
    except QueryError as exc:
        return body, None, exc


def _series_name(labels: list[str], providers: dict[str, str]) -> Any:
    def name(row: dict[str, Any]) -> str:
        if row["other"]:
            return "Other"
        if not labels:
            return "Total"
        return " - ".join(shown(label, row["group"][label], providers) for label in labels)

    return name


def shown(label: str, value: str | None, providers: dict[str, str]) -> str:
    """A group value as a person reads it: a provider by its name, a missing value as (none)."""
    if value is None:
        return "(none)"
    return providers.get(value, value) if label == "provider" else value


def _views(page: Page) -> list[Any]:
    principal = page.principal
    assert principal is not None
    return list_views(page.runtime.catalog, page.runtime.settings, principal.workspace_id)


@router.get("/explorer")
async def explorer(request: Request) -> Response:
    """The explorer: a query from the URL, its result as chart + table twin, CSV download, saved views."""
    page = signed_in(request)
    scope = _scope(page)
    params = request.query_params
    if not any(k != "view" for k in params):
        return redirect(page, "/explorer?" + urlencode(default_params()))
    body, query, error = _parse(page, params)
    result: dict[str, Any] | None = None
    failure: ExplorerError | None = None
    if query is not None:
        try:
            answered = await run_in_threadpool(
                run_query, page.runtime.explorer, page.runtime.catalog, page.runtime.settings, scope, query
            )
            result = result_json(answered)
        except ExplorerError as exc:
            failure = exc
    labels = [g for g in body.get("groupBy", []) if isinstance(g, str)]
    providers = {
        p.id: p.name for p in list_providers(page.runtime.catalog, scope.workspace_id, scope.provider_ids)
    }
    rows = result["rows"] if result else []
    charted = [r for r in rows if r["period"] is not None]
    view = None
    view_id = params.get("view")
    if view_id:
        try:
            view = get_view(page.runtime.catalog, page.runtime.settings, scope.workspace_id, view_id)
        except ViewError:
            view = None
    csv_params = [(k, v) for k, v in params.multi_items() if k not in ("view", "done")]
    status = 400 if error else (failure.status if failure else 200)
    return render(
        page,
        "explorer.html",
        status=status,
        body=body,
        params=params,
        error=error,
        failure=failure,
        result=result,
        labels=labels,
        charts=twins(charted, "period", _series_name(labels, providers)),
        providers=providers,
        shown=shown,
        metrics=METRICS,
        grains=GRAINS,
        sorts=SORTS,
        ops=OPS,
        dimensions=sorted([*dimension_columns(), "provider"]),
        group_slots=MAX_GROUP_BY,
        filter_rows=len(body.get("filters", [])) + FILTER_ROWS,
        csv_url="/explorer.csv?" + urlencode(csv_params),
        share_query=urlencode(csv_params),
        share_url=base_url(page).rstrip("/") + "/explorer?" + urlencode(csv_params),
        views=_views(page),
        view=view,
        query_string=query_string,
        notice=params.get("done"),
    )


@router.get("/explorer.csv")
async def explorer_csv(request: Request) -> Response:
    """The explorer's result rows as a CSV download (the same query as the page's URL)."""
    page = signed_in(request)
    scope = _scope(page)
    _, query, error = _parse(page, request.query_params)
    if query is None:
        assert error is not None
        raise WebError(400, "Invalid query", str(error))
    try:
        answered = await run_in_threadpool(
            run_query, page.runtime.explorer, page.runtime.catalog, page.runtime.settings, scope, query
        )
    except ExplorerError as exc:
        raise WebError(exc.status, "The query could not be answered", exc.message) from exc
    response = Response(
        result_csv(answered),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="focusbase-{query.metric}.csv"'},
    )
    return finish(page, response)


@router.get("/explorer/views/{view_id}")
def open_view(request: Request, view_id: str) -> Response:
    """Open a saved view: the explorer with its query in the URL (read scope)."""
    page = signed_in(request)
    scope = _scope(page)
    try:
        view = get_view(page.runtime.catalog, page.runtime.settings, scope.workspace_id, view_id)
    except ViewError as exc:
        raise WebError(exc.status, "No such view", exc.message) from exc
    return redirect(page, "/explorer?" + query_string(view.query.as_json(), [("view", view.id)]))


@router.post("/explorer/views")
async def save_view(request: Request) -> Response:
    """Save the explorer's current query as a named view (admin scope, as the API)."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = page.require("admin")
    current = str(form.get("query") or "")
    params = QueryParams(parse_qsl(current, keep_blank_values=True))
    body = body_from_params(params)
    try:
        view = create_view(
            page.runtime.catalog,
            page.runtime.settings,
            principal.workspace_id,
            str(form.get("name") or ""),
            body,
            principal.key_id,
        )
    except ViewError as exc:
        raise WebError(exc.status, "The view was not saved", exc.message) from exc
    schedule_view_detection(page.runtime, principal.workspace_id, view.id)
    return redirect(
        page, "/explorer?" + query_string(view.query.as_json(), [("view", view.id), ("done", "saved")])
    )


@router.get("/explorer/views/{view_id}/delete")
def delete_confirm(request: Request, view_id: str) -> Response:
    """Ask before deleting a saved view."""
    page = signed_in(request)
    principal = page.require("admin")
    try:
        view = get_view(page.runtime.catalog, page.runtime.settings, principal.workspace_id, view_id)
    except ViewError as exc:
        raise WebError(exc.status, "No such view", exc.message) from exc
    return render(page, "view_delete.html", view=view)


@router.post("/explorer/views/{view_id}/delete")
async def delete(request: Request, view_id: str) -> Response:
    """Delete a saved view of the workspace (admin scope, as the API)."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = page.require("admin")
    try:
        delete_view(
            page.runtime.catalog, principal.workspace_id, view_id, show_budgets=principal.provider_ids is None
        )
    except ViewError as exc:
        title = "Budgets use this view" if exc.code == "view_in_use" else "No such view"
        raise WebError(exc.status, title, exc.message) from exc
    return redirect(page, "/explorer?" + urlencode([*default_params(), ("done", "deleted")]))
