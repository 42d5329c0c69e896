"""Pages: cost anomalies, the list with filters, one anomaly with its explanation and chart, state changes.

The list and the state changes go through the same storage calls as /api/v1/anomalies with the same rules
(read to see, admin to change, a provider-limited key sees only its providers' anomalies).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from focusbase.analytics.anomaly_service import load_provider, money, params_from
from focusbase.analytics.detect.anomalies import detect
from focusbase.runtime import Runtime
from focusbase.storage import anomalies as store
from focusbase.tenancy.providers import list_providers
from focusbase.web.charts import Twin
from focusbase.web.core import Page, WebError, check_csrf, redirect, render, signed_in
from focusbase.web.dashboard import parse_day

router = APIRouter(include_in_schema=False)

SCOPES = ("provider", *store.DIMENSIONS)
SEVERITIES = ("Low", "Medium", "High", "Critical")
# The buttons of the detail page: the state each sets, and its label.
ACTIONS = (
    ("Acknowledged", "Acknowledge"),
    ("Resolved", "Resolve"),
    ("False positive", "False positive"),
    ("Dismissed", "Dismiss"),
    ("New", "Reopen"),
)
PAGE_SIZE = 50
CHART_DAYS_BEFORE = 28
CHART_DAYS_AFTER = 7


def _token(value: str) -> tuple[str, str]:
    try:
        start, anomaly_id = base64.urlsafe_b64decode(value.encode("ascii")).decode("utf-8").split("|", 1)
        date.fromisoformat(start)
    except (ValueError, UnicodeError, binascii.Error):
        raise WebError(
            400, "Invalid page link", "this page link is malformed: go back to the first page"
        ) from None
    return start, anomaly_id


def _chosen(name: str, given: list[str], allowed: tuple[str, ...]) -> tuple[str, ...]:
    for value in given:
        if value not in allowed:
            raise WebError(400, "Invalid filter", f"{name} must be one of {', '.join(allowed)}")
    return tuple(given)


@router.get("/anomalies")
async def anomalies(request: Request) -> Response:
    """Anomalies of the key's workspace and providers, newest first, filtered as the API filters them."""
    page = signed_in(request)
    principal = page.require("read")
    params = request.query_params
    states = _chosen("State", params.getlist("state"), store.STATES)
    severities = _chosen("Severity", params.getlist("severity"), SEVERITIES)
    scope = params.get("scope") or None
    if scope is not None and scope not in SCOPES:
        raise WebError(400, "Invalid filter", f"Scope must be one of {', '.join(SCOPES)}")
    value = (params.get("scopeValue") or "").strip() or None
    provider = params.get("provider") or None
    start_from = parse_day(params.get("startFrom"), "Starting on or after")
    start_to = parse_day(params.get("startTo"), "Starting on or before")
    token = params.get("pageToken")
    query = store.AnomalyQuery(
        workspace_id=principal.workspace_id,
        provider_ids=principal.provider_ids,
        provider_id=provider,
        dimension=scope,
        value=value,
        states=states,
        severities=severities,
        start_from=start_from.isoformat() if start_from else None,
        # The list is of events starting on or before this day (the storage bound is exclusive).
        start_to=start_to.isoformat() if start_to else None,
        after=_token(token) if token else None,
    )
    rows = await run_in_threadpool(store.list_anomalies, page.runtime.catalog, query, PAGE_SIZE + 1)
    next_link = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        last = rows[-1]
        kept = [(k, v) for k, v in params.multi_items() if k != "pageToken"]
        encoded = base64.urlsafe_b64encode(f"{last.start_date}|{last.id}".encode()).decode("ascii")
        next_link = "/anomalies?" + urlencode([*kept, ("pageToken", encoded)])
    providers = list_providers(page.runtime.catalog, principal.workspace_id, principal.provider_ids)
    filtered = bool(states or severities or scope or value or provider or start_from or start_to)
    return render(
        page,
        "anomalies.html",
        rows=rows,
        names={p.id: p.name for p in providers},
        providers=providers,
        states=store.STATES,
        severities=SEVERITIES,
        scopes=SCOPES,
        chosen={
            "state": states,
            "severity": severities,
            "scope": scope or "",
            "scopeValue": value or "",
            "provider": provider or "",
            "startFrom": params.get("startFrom") or "",
            "startTo": params.get("startTo") or "",
        },
        filtered=filtered,
        next_link=next_link,
        first_page=token is None,
    )


def _visible(page: Page, anomaly_id: str) -> store.AnomalyRecord:
    """An anomaly of the key's workspace and providers (the API's rule); a 404 page otherwise."""
    assert page.principal is not None
    record = store.get_anomaly(page.runtime.catalog, page.principal.workspace_id, anomaly_id)
    if record is None or not page.principal.can_access_provider(record.provider_id):
        raise WebError(404, "No such anomaly", f"no anomaly {anomaly_id} in this workspace")
    return record


@dataclass(slots=True)
class Around:
    """The chart of an anomaly: daily actual vs expected spend around its days."""

    twin: Twin
    event_days: set[str]


def _around(runtime: Runtime, record: store.AnomalyRecord) -> Around | None:
    """The scope's daily spend and the detector's expected spend from 4 weeks before to 1 week after."""
    settings = runtime.settings
    data = load_provider(
        runtime.series, record.workspace_id, record.provider_id, settings.anomaly_history_days
    )
    if data is None:
        return None
    series = data.series.get((record.dimension, record.value, record.currency))
    if series is None:
        return None
    found = detect(series, params_from(settings))
    start, end = date.fromisoformat(record.start_date), date.fromisoformat(record.end_date)
    first = max(0, (start - series.start).days - CHART_DAYS_BEFORE)
    last = min(len(series) - 1, (end - series.start).days + CHART_DAYS_AFTER)
    twin = Twin(currency=record.currency, series=["Actual", "Expected"])
    for i in range(first, last + 1):
        day = series.day(i).isoformat()
        twin.xs.append(day)
        twin.cells[(day, "Actual")] = money(series.detectable[i])
        # What this event was measured against: a spike during a drift, against the drift's line.
        expected = found.expected(i, record.kind)
        twin.cells[(day, "Expected")] = "" if expected != expected else money(expected)  # NaN: none yet
    days = {(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)}
    return Around(twin, days)


def _detail(
    page: Page, record: store.AnomalyRecord, *, status: int = 200, error: str | None = None
) -> Response:
    assert page.principal is not None
    around = _around(page.runtime, record)
    providers = list_providers(page.runtime.catalog, page.principal.workspace_id, page.principal.provider_ids)
    return render(
        page,
        "anomaly.html",
        status=status,
        a=record,
        contributors=json.loads(record.contributors),
        around=around,
        provider_name={p.id: p.name for p in providers}.get(record.provider_id, record.provider_id),
        actions=ACTIONS,
        error=error,
        done=page.request.query_params.get("done"),
    )


@router.get("/anomalies/{anomaly_id}")
async def anomaly(request: Request, anomaly_id: str) -> Response:
    """One anomaly: what happened, the top contributing child dimensions, actual vs expected per day."""
    page = signed_in(request)
    page.require("read")
    record = _visible(page, anomaly_id)
    return await run_in_threadpool(_detail, page, record)


@router.post("/anomalies/{anomaly_id}/state")
async def change_state(request: Request, anomaly_id: str) -> Response:
    """Set the anomaly's state with an optional note (admin scope, as PATCH /api/v1/anomalies/{id})."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = page.require("admin")
    record = _visible(page, anomaly_id)
    state = str(form.get("state") or "")
    note = str(form.get("note") or "").strip() or None
    if state not in store.STATES:
        return _detail(page, record, status=400, error=f"State must be one of {', '.join(store.STATES)}")
    if note is not None and len(note) > 2000:
        return _detail(page, record, status=400, error="Note: at most 2,000 characters")
    store.set_state(page.runtime.catalog, principal.workspace_id, anomaly_id, state, principal.key_id, note)
    return redirect(page, f"/anomalies/{anomaly_id}?done=state")
