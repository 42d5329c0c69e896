"""HTTP routes: the Data Explorer query (`POST /api/v1/explorer/query`), as JSON, CSV or Parquet."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from focusbase.analytics.explorer import ExplorerError, run_query
from focusbase.analytics.model import ExplorerQuery, QueryError, parse_query
from focusbase.analytics.results import result_csv, result_json, result_parquet
from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.api.ratelimit import rate_limit
from focusbase.query.filters import Scope
from focusbase.runtime import Runtime
from focusbase.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["analytics"], dependencies=[Depends(rate_limit("read"))])
Reader = Annotated[Principal, Depends(require_scope("read"))]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Format = Literal["json", "csv", "parquet"]
FormatParam = Annotated[Format, Query(description="json (default), csv or parquet (a download of the rows).")]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid query or over a result limit (the error envelope names the field)."},
    401: {"description": "Missing or invalid API key."},
    403: {"description": "The key lacks the read scope."},
    422: {"description": "A sum or conversion does not fit DECIMAL(38, 12)."},
    429: {"description": "Rate limited."},
    503: {"description": "The query ran longer than explorer_timeout_seconds."},
}


class FilterBody(BaseModel):
    """One filter: equals / in / not_in / contains on values, or present / absent."""

    model_config = ConfigDict(extra="forbid")
    dimension: str = Field(description="ServiceName (any FOCUS dimension), provider, tag:<key> or x_<name>.")
    op: str = Field(description="equals, in, not_in, contains (case-insensitive), present or absent.")
    values: list[str] | None = Field(None, description="The values (one for equals and contains).")


class QueryBody(BaseModel):
    """A cost-over-time question (docs/analytics.md)."""

    model_config = ConfigDict(extra="forbid")
    metric: str | None = Field(None, description="BilledCost, EffectiveCost (default), ListCost, ...")
    grain: str | None = Field(None, description="day (default), week (Monday, UTC), month or none.")
    groupBy: list[str] | None = Field(None, description="Up to 3 dimensions.")
    filters: list[FilterBody] | None = None
    start: str | None = Field(None, description="First charge day, YYYY-MM-DD (inclusive).")
    end: str | None = Field(None, description="Charge day after the last, YYYY-MM-DD (exclusive).")
    top: int | None = Field(None, description="Keep the largest N groups per currency; the rest is Other.")
    sort: str | None = Field(None, description="value_desc (default), value_asc or group.")
    currency: str | None = Field(
        None, description="Also convert to this currency with the workspace's rates."
    )


class ResultRow(BaseModel):
    """One cell: currency (and unit for quantities), period, group values, Other flag, exact sum."""

    currency: str | None
    unit: str | None
    period: str | None
    group: dict[str, str | None]
    other: bool
    value: str
    rowCount: int


class ResultTotal(BaseModel):
    """The total of one currency (and unit)."""

    currency: str | None
    unit: str | None
    value: str
    rowCount: int


class BucketOut(BaseModel):
    """A time bucket: days holding data, partial (cut by the range or not over) and open periods."""

    period: str
    end: str
    daysInPeriod: int
    daysWithData: int
    partial: bool
    open: bool


class BillingPeriodOut(BaseModel):
    """A billing period of the matching data and whether it is open, closed or finalized."""

    providerId: str
    billingPeriodStart: str | None
    billingPeriodEnd: str | None
    status: str


class ProviderOut(BaseModel):
    """Freshness of one provider's matching data."""

    providerId: str
    lastUpdated: str | None
    firstDay: str | None
    lastDay: str | None
    daysWithData: int


class ExplorerResponse(BaseModel):
    """An explorer result, split by BillingCurrency, with its freshness markers."""

    query: dict[str, Any]
    source: str = Field(description="rollup (daily rollup) or rows (live rows).")
    groupCount: int
    rows: list[ResultRow]
    totals: list[ResultTotal]
    buckets: list[BucketOut]
    billingPeriods: list[BillingPeriodOut]
    providers: list[ProviderOut]
    dataCompleteness: str
    dataLastUpdated: str | None
    missingRates: dict[str, Any] | None = Field(
        None, description="With currency: the rows left unconverted for lack of a rate, per currency and day."
    )


def scope_of(principal: Principal) -> Scope:
    """What the key may see (its workspace, and its providers when limited)."""
    return Scope(principal.workspace_id, principal.provider_ids)


def parse_body(body: dict[str, Any], runtime: Runtime) -> ExplorerQuery:
    """An ExplorerQuery from a request body; 400 invalid_query naming the field otherwise."""
    try:
        return parse_query(body, max_groups=runtime.settings.explorer_max_groups)
    except QueryError as exc:
        raise ApiError(400, "invalid_query", f"invalid query: {exc}", details=exc.field) from exc


def answer(runtime: Runtime, principal: Principal, query: ExplorerQuery, fmt: Format) -> Response:
    """Run a query for a key and render it in the asked format."""
    try:
        result = run_query(runtime.warehouse, runtime.catalog, runtime.settings, scope_of(principal), query)
    except ExplorerError as exc:
        raise ApiError(exc.status, exc.code, exc.message, details=exc.field) from exc
    if fmt == "csv":
        return Response(
            result_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="explorer.csv"'},
        )
    if fmt == "parquet":
        return Response(
            result_parquet(result),
            media_type="application/vnd.apache.parquet",
            headers={"Content-Disposition": 'attachment; filename="explorer.parquet"'},
        )
    return Response(orjson.dumps(result_json(result)), media_type="application/json")


@router.post("/explorer/query", response_model=ExplorerResponse, responses=ERRORS)
def explorer_query(
    body: QueryBody,
    principal: Reader,
    runtime: RuntimeDep,
    format: FormatParam = "json",
) -> Response:
    """Cost over time grouped, filtered and split by BillingCurrency, from the rollup or the live rows."""
    query = parse_body(body.model_dump(exclude_none=True), runtime)
    return answer(runtime, principal, query, format)
