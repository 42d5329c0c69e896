"""HTTP routes: spend forecasts (/api/v1/forecasts) per scope and currency, with the month-end projection."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from focusbase.analytics.forecast_service import forecast_scope, forecast_view
from focusbase.analytics.views import ViewError, get_view
from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.api.ratelimit import rate_limit
from focusbase.query.filters import Scope
from focusbase.runtime import Runtime
from focusbase.storage.anomalies import DIMENSIONS
from focusbase.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1/forecasts", dependencies=[Depends(rate_limit("read"))])
Reader = Annotated[Principal, Depends(require_scope("read"))]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SCOPES = ("provider", *DIMENSIONS, "view")


@router.get("", responses={404: {"description": "No such view in this workspace (scope view)."}})
def get_forecast(
    principal: Reader,
    runtime: RuntimeDep,
    provider: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="The provider; required unless scope is view, where it limits the view to it.",
        ),
    ] = None,
    scope: Annotated[str, Query(json_schema_extra={"enum": list(SCOPES)})] = "provider",
    scopeValue: Annotated[
        str | None,
        Query(min_length=1, max_length=500, description="The dimension's value, or the view id (view_...)."),
    ] = None,
) -> dict[str, object]:
    """The next days' spend of a scope with a calibrated 80% band and the month-end projection."""
    if scope not in SCOPES:
        raise ApiError(400, "invalid_parameter", f"scope must be one of {', '.join(SCOPES)}", details="scope")
    if scope != "provider" and not scopeValue:
        raise ApiError(400, "invalid_parameter", f"scope {scope} needs a scopeValue", details="scopeValue")
    if scope != "view" and provider is None:
        raise ApiError(400, "invalid_parameter", f"scope {scope} needs a provider", details="provider")
    if provider is not None and not principal.can_access_provider(provider):
        raise ApiError(403, "forbidden", "this key is limited to other providers")
    if scope == "view":
        try:
            view = get_view(runtime.catalog, runtime.settings, principal.workspace_id, str(scopeValue))
        except ViewError as exc:
            raise ApiError(exc.status, exc.code, exc.message, details="scopeValue") from exc
        # The view with the caller's own scope, as the explorer runs it (narrowed to `provider` if given).
        allowed = principal.provider_ids if provider is None else frozenset({provider})
        found = forecast_view(runtime, Scope(principal.workspace_id, allowed), view.query)
        value = view.id
    else:
        assert provider is not None
        value = provider if scope == "provider" else str(scopeValue)
        found = forecast_scope(runtime, principal.workspace_id, provider, scope, value)
    return {
        "providerId": provider,
        "scope": scope,
        "scopeValue": value,
        "data": [item.as_json() for item in found],
    }
