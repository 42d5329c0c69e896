"""HTTP route: the dashboard figures (`GET /api/v1/dashboard`), per BillingCurrency."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from focusbase.analytics.dashboard import build_dashboard
from focusbase.analytics.explorer import ExplorerError
from focusbase.analytics.model import QueryError
from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.api.explorer import ERRORS, day_param, parse_day, scope_of
from focusbase.api.ratelimit import rate_limit
from focusbase.runtime import Runtime
from focusbase.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["analytics"], dependencies=[Depends(rate_limit("read"))])
Reader = Annotated[Principal, Depends(require_scope("read"))]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class MonthToDate(BaseModel):
    """Month to date against the same days of last month, in one currency."""

    currency: str
    monthToDate: str
    sameDaysLastMonth: str
    change: str
    changeRatio: str | None


class DayValue(BaseModel):
    """One day of the last 30 days, in one currency."""

    currency: str | None
    day: str | None
    value: str


class TopService(BaseModel):
    """A top service (or Other) of the last 30 days."""

    currency: str | None
    serviceName: str | None
    other: bool
    value: str


class TopProvider(BaseModel):
    """A top provider (or Other) of the last 30 days."""

    currency: str | None
    providerId: str | None
    name: str | None
    other: bool
    value: str


class Mover(BaseModel):
    """A service whose month-to-date cost moved most against the same days of last month."""

    currency: str
    serviceName: str | None
    monthToDate: str
    sameDaysLastMonth: str
    change: str
    changeRatio: str | None


class Freshness(BaseModel):
    """How current a provider's data is."""

    providerId: str
    name: str
    lastUpdated: str | None
    firstDay: str | None
    lastDay: str | None
    daysWithData: int
    daysBehind: int | None


class DashboardResponse(BaseModel):
    """The dashboard's figures, every amount an exact decimal string in its own currency."""

    metric: str
    asOf: str
    windows: dict[str, list[str]]
    monthToDate: list[MonthToDate]
    last30Days: list[DayValue]
    topServices: list[TopService]
    topProviders: list[TopProvider]
    biggestMovers: list[Mover]
    freshness: list[Freshness]


@router.get("/dashboard", response_model=DashboardResponse, responses=ERRORS)
def dashboard(
    principal: Reader,
    runtime: RuntimeDep,
    metric: Annotated[
        Literal["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"],
        Query(description="BilledCost, EffectiveCost (default), ListCost or ContractedCost."),
    ] = "EffectiveCost",
    asOf: Annotated[
        str | None, day_param("The day the month to date ends on, YYYY-MM-DD (default: today, UTC).")
    ] = None,
) -> Response:
    """Month to date vs last month, last 30 days, top services and providers, movers and freshness."""
    try:
        body = build_dashboard(
            runtime.explorer,
            runtime.insights,
            runtime.catalog,
            runtime.settings,
            scope_of(principal),
            metric=metric,
            as_of=parse_day(asOf, "asOf"),
        )
    except QueryError as exc:
        raise ApiError(400, "invalid_query", f"invalid query: {exc}", details=exc.field) from exc
    except ExplorerError as exc:
        raise ApiError(exc.status, exc.code, exc.message, details=exc.field) from exc
    return Response(orjson.dumps(body), media_type="application/json")
