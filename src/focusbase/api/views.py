"""HTTP routes: saved explorer views (`/api/v1/views`) and their results as JSON, CSV or Parquet."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from focusbase.analytics import views as service
from focusbase.analytics.anomaly_service import schedule_view_detection
from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.api.explorer import DOWNLOADS, ERRORS, ExplorerResponse, FormatParam, QueryBody, answer
from focusbase.api.ratelimit import rate_limit
from focusbase.runtime import Runtime
from focusbase.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1/views", tags=["analytics"], dependencies=[Depends(rate_limit("read"))])
Reader = Annotated[Principal, Depends(require_scope("read"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ViewId = Annotated[str, Path(description="The view id (view_...).")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such view in this workspace."}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The name is taken, or the workspace has max_saved_views views."}
}
_IN_USE: dict[int | str, dict[str, Any]] = {
    409: {"description": "Budgets measure the view (view_in_use; `details.budgets` lists them)."}
}


class ViewCreate(BaseModel):
    """A new saved view."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Unique within the workspace, 1 to 200 characters.")
    query: QueryBody


class ViewPatch(BaseModel):
    """Changes to a view; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    query: QueryBody | None = None


class ViewOut(BaseModel):
    """A saved view: its name, its canonical query and its owner workspace."""

    id: str
    name: str
    workspaceId: str
    query: dict[str, Any]
    createdAt: str
    updatedAt: str


class ViewList(BaseModel):
    """The workspace's views."""

    data: list[ViewOut]


def _error(exc: service.ViewError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, details=exc.details)


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


def _dump(body: QueryBody | None) -> dict[str, Any] | None:
    return None if body is None else body.model_dump(exclude_none=True)


@router.post("", status_code=201, response_model=ViewOut, responses={**ERRORS, **_CONFLICT})
def create(body: ViewCreate, principal: Admin, runtime: RuntimeDep) -> Response:
    """Save an explorer query under a name for the workspace (admin scope)."""
    try:
        view = service.create_view(
            runtime.catalog,
            runtime.settings,
            principal.workspace_id,
            body.name,
            _dump(body.query),
            principal.key_id,
        )
    except service.ViewError as exc:
        raise _error(exc) from exc
    schedule_view_detection(runtime, principal.workspace_id, view.id)
    return _json(view.as_json(), 201)


@router.get("", response_model=ViewList, responses=ERRORS)
def list_all(principal: Reader, runtime: RuntimeDep) -> Response:
    """List the workspace's saved views."""
    views = service.list_views(runtime.catalog, runtime.settings, principal.workspace_id)
    return _json({"data": [v.as_json() for v in views]})


@router.get("/{view_id}", response_model=ViewOut, responses={**ERRORS, **_NOT_FOUND})
def get(view_id: ViewId, principal: Reader, runtime: RuntimeDep) -> Response:
    """Get one saved view."""
    try:
        view = service.get_view(runtime.catalog, runtime.settings, principal.workspace_id, view_id)
    except service.ViewError as exc:
        raise _error(exc) from exc
    return _json(view.as_json())


@router.patch("/{view_id}", response_model=ViewOut, responses={**ERRORS, **_NOT_FOUND, **_CONFLICT})
def update(view_id: ViewId, body: ViewPatch, principal: Admin, runtime: RuntimeDep) -> Response:
    """Rename a saved view or replace its query (admin scope)."""
    try:
        view = service.update_view(
            runtime.catalog,
            runtime.settings,
            principal.workspace_id,
            view_id,
            name=body.name,
            query=_dump(body.query),
        )
    except service.ViewError as exc:
        raise _error(exc) from exc
    if body.query is not None:
        schedule_view_detection(runtime, principal.workspace_id, view.id)
    return _json(view.as_json())


@router.delete("/{view_id}", status_code=204, responses={**ERRORS, **_NOT_FOUND, **_IN_USE})
def delete(view_id: ViewId, principal: Admin, runtime: RuntimeDep) -> Response:
    """Delete a saved view (admin scope); refused while budgets measure it. Its anomalies stay."""
    try:
        service.delete_view(
            runtime.catalog, principal.workspace_id, view_id, show_budgets=principal.provider_ids is None
        )
    except service.ViewError as exc:
        raise _error(exc) from exc
    return Response(status_code=204)


@router.get(
    "/{view_id}/result", response_model=ExplorerResponse, responses={**DOWNLOADS, **ERRORS, **_NOT_FOUND}
)
def result(view_id: ViewId, principal: Reader, runtime: RuntimeDep, format: FormatParam = "json") -> Response:
    """Run a saved view with the caller's scope, as JSON or a CSV or Parquet download."""
    try:
        view = service.get_view(runtime.catalog, runtime.settings, principal.workspace_id, view_id)
    except service.ViewError as exc:
        raise _error(exc) from exc
    return answer(runtime, principal, view.query, format)
