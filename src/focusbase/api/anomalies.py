"""HTTP routes: cost anomalies (/api/v1/anomalies): list with filters, one anomaly, state changes."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from focusbase.analytics.anomaly_service import detect_provider, detect_view
from focusbase.analytics.views import ViewError, get_view
from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.api.explorer import day_param
from focusbase.api.ratelimit import rate_limit
from focusbase.runtime import Runtime
from focusbase.storage import anomalies as store
from focusbase.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1/anomalies", dependencies=[Depends(rate_limit("read"))])
Reader = Annotated[Principal, Depends(require_scope("read"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SCOPES = ("provider", *store.DIMENSIONS, "view")
SEVERITIES = ("Low", "Medium", "High", "Critical")


def _json(record: store.AnomalyRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "providerId": record.provider_id or None,  # None: a view's total across providers
        "providerIds": record.provider_ids,
        "scope": record.dimension,
        "scopeValue": record.value,
        "currency": record.currency,
        "startDate": record.start_date,
        "endDate": record.end_date,
        "detectedOn": record.detected_on,
        "type": record.kind,
        "severity": record.severity,
        "direction": "up" if record.direction > 0 else "down",
        "actualSpend": record.actual,
        "expectedSpend": record.expected,
        "impact": record.impact,
        "impactPercentage": record.impact_percentage,
        "maxScore": record.max_z,
        "ongoing": bool(record.ongoing),
        "contributors": json.loads(record.contributors),
        "state": record.state,
        "stateChangedBy": record.state_changed_by,
        "stateChangedAt": record.state_changed_at,
        "note": record.note,
    }


def _date(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise ApiError(400, "invalid_parameter", f"{name} must be a date YYYY-MM-DD", details=name) from exc


def _choices(name: str, given: list[str] | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    for value in given or []:
        if value not in allowed:
            raise ApiError(
                400, "invalid_parameter", f"{name} must be one of {', '.join(allowed)}", details=name
            )
    return tuple(given or ())


def _token(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    try:
        start, anomaly_id = base64.urlsafe_b64decode(value.encode("ascii")).decode("utf-8").split("|", 1)
        date.fromisoformat(start)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise ApiError(400, "invalid_page_token", "the pageToken is malformed", details="pageToken") from exc
    return start, anomaly_id


@router.get("")
def list_anomalies(
    principal: Reader,
    runtime: RuntimeDep,
    scope: Annotated[str | None, Query(json_schema_extra={"enum": list(SCOPES)})] = None,
    scopeValue: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
    provider: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$")] = None,
    state: Annotated[
        list[str] | None, Query(json_schema_extra={"items": {"enum": list(store.STATES)}})
    ] = None,
    severity: Annotated[
        list[str] | None, Query(json_schema_extra={"items": {"enum": list(SEVERITIES)}})
    ] = None,
    minSeverity: Annotated[str | None, Query(json_schema_extra={"enum": list(SEVERITIES)})] = None,
    startFrom: Annotated[str | None, day_param("Events starting on or after this day, YYYY-MM-DD.")] = None,
    startTo: Annotated[str | None, day_param("Events starting on or before this day, YYYY-MM-DD.")] = None,
    pageSize: Annotated[int, Query(ge=1)] = 100,
    pageToken: str | None = None,
) -> dict[str, object]:
    """Anomalies of the key's workspace (and providers), newest first; filters combine with AND."""
    if scope is not None and scope not in SCOPES:
        raise ApiError(400, "invalid_parameter", f"scope must be one of {', '.join(SCOPES)}", details="scope")
    severities = _choices("severity", severity, SEVERITIES)
    if minSeverity is not None:
        _choices("minSeverity", [minSeverity], SEVERITIES)
        floor = SEVERITIES[SEVERITIES.index(minSeverity) :]
        severities = tuple(s for s in (severities or SEVERITIES) if s in floor)
        if not severities:  # severity and minSeverity exclude each other
            return {"data": [], "nextPageToken": None}
    size = min(pageSize, runtime.settings.anomaly_page_max)
    query = store.AnomalyQuery(
        workspace_id=principal.workspace_id,
        provider_ids=principal.provider_ids,
        provider_id=provider,
        dimension=scope,
        value=scopeValue,
        states=_choices("state", state, store.STATES),
        severities=severities,
        currency=currency,
        start_from=_date("startFrom", startFrom),
        start_to=_date("startTo", startTo),
        after=_token(pageToken),
    )
    rows = store.list_anomalies(runtime.catalog, query, size + 1)
    token = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        token = base64.urlsafe_b64encode(f"{last.start_date}|{last.id}".encode()).decode("ascii")
    return {"data": [_json(r) for r in rows], "nextPageToken": token}


def _visible(principal: Principal, runtime: Runtime, anomaly_id: str) -> store.AnomalyRecord:
    record = store.get_anomaly(runtime.catalog, principal.workspace_id, anomaly_id)
    if record is None or not record.visible_to(principal.provider_ids):
        raise ApiError(
            404, "anomaly_not_found", f"no anomaly {anomaly_id} in this workspace", details=anomaly_id
        )
    return record


@router.get("/{anomaly_id}")
def get_anomaly(anomaly_id: str, principal: Reader, runtime: RuntimeDep) -> dict[str, object]:
    """One anomaly with its explanation (top contributing child dimensions)."""
    return _json(_visible(principal, runtime, anomaly_id))


class StateChange(BaseModel):
    """A new state for an anomaly; False positive raises the scope's thresholds."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["New", "Acknowledged", "Resolved", "False positive", "Dismissed"]
    note: str | None = Field(None, max_length=2000)


@router.patch("/{anomaly_id}")
def change_state(
    anomaly_id: str, change: StateChange, principal: Admin, runtime: RuntimeDep
) -> dict[str, object]:
    """Set an anomaly's state (admin scope); who and when are recorded."""
    _visible(principal, runtime, anomaly_id)
    record = store.set_state(
        runtime.catalog, principal.workspace_id, anomaly_id, change.state, principal.key_id, change.note
    )
    assert record is not None
    return _json(record)


class DetectRequest(BaseModel):
    """Which provider to check now."""

    model_config = ConfigDict(extra="forbid")
    providerId: str = Field(min_length=1, max_length=200)


class DetectViewRequest(BaseModel):
    """Which saved view to check now."""

    model_config = ConfigDict(extra="forbid")
    viewId: str = Field(min_length=1, max_length=200)


@router.post("/detect", responses={404: {"description": "No such view in this workspace."}})
def detect_now(
    request: DetectRequest | DetectViewRequest, principal: Admin, runtime: RuntimeDep
) -> dict[str, object]:
    """Run detection for one provider or one saved view now (admin scope); reports how many events are new."""
    if isinstance(request, DetectViewRequest):
        # A view's total spans every provider of the workspace.
        if principal.provider_ids is not None:
            raise ApiError(403, "forbidden", "a key limited to some providers cannot run detection on a view")
        try:
            get_view(runtime.catalog, runtime.settings, principal.workspace_id, request.viewId)
        except ViewError as exc:
            raise ApiError(exc.status, exc.code, exc.message, details="viewId") from exc
        created = detect_view(runtime, principal.workspace_id, request.viewId)
        return {"viewId": request.viewId, "anomaliesCreated": created}
    if not principal.can_access_provider(request.providerId):
        raise ApiError(403, "forbidden", "this key is limited to other providers")
    created = detect_provider(runtime, principal.workspace_id, request.providerId)
    return {"providerId": request.providerId, "anomaliesCreated": created}
