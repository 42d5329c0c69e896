"""HTTP routes: the Data Explorer query (`POST /api/v1/explorer/query`), as JSON, CSV or Parquet."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from focusbase.analytics.explorer import ExplorerError, run_query
from focusbase.analytics.model import (
    GRAINS,
    MAX_FILTER_VALUES,
    MAX_FILTERS,
    MAX_GROUP_BY,
    METRICS,
    OPS,
    SORTS,
    ExplorerQuery,
    QueryError,
    dimension_columns,
    parse_query,
)
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
# A charge day in a query parameter: YYYY-MM-DD in the years 1900 to 9999 (the range every window of the
# server accepts), stated in the schema so that clients know it.
DAY_PATTERN = r"^(19[0-9]{2}|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def day_param(description: str) -> Any:
    """A Query() for a YYYY-MM-DD day (parsed with `parse_day`)."""
    return Query(description=description, pattern=DAY_PATTERN, json_schema_extra={"format": "date"})


def parse_day(text: str | None, name: str) -> date | None:
    """The day a `day_param` names; 400 invalid_query for a day the calendar has not (2026-02-30)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(
            400, "invalid_query", f"invalid query: {name}: {text!r} is not a calendar day", details=name
        ) from None


FormatParam = Annotated[Format, Query(description="json (default), csv or parquet (a download of the rows).")]

# The 200 answer is JSON by default, or the rows as a CSV or Parquet download (?format=csv|parquet).
DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The result (JSON), or its rows as CSV or Parquet with ?format=csv|parquet.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid query or over a result limit (the error envelope names the field)."},
    401: {"description": "Missing or invalid API key."},
    403: {"description": "The key lacks the read scope."},
    422: {"description": "A sum or conversion does not fit DECIMAL(38, 12)."},
    429: {"description": "Rate limited."},
    503: {"description": "The query ran longer than explorer_timeout_seconds."},
}


# What a dimension may be, as far as JSON Schema can say: a FOCUS String dimension, provider, a tag key or an
# x_ column (parse_query in analytics/model.py is the authority and names the field it refuses).
_DIMENSION: dict[str, Any] = {
    "anyOf": [
        {"enum": sorted([*dimension_columns(), "provider"])},
        {"pattern": r'^tag:[^"\\\x00-\x1f]{1,128}$'},
        {"pattern": "^x_[A-Za-z0-9_]{1,126}$"},
    ]
}


class FilterBody(BaseModel):
    """One filter: equals / in / not_in / contains on values, or present / absent."""

    model_config = ConfigDict(extra="forbid")
    dimension: str = Field(
        description="ServiceName (any FOCUS dimension), provider, tag:<key> or x_<name>.",
        json_schema_extra=_DIMENSION,
    )
    op: str = Field(
        description="equals, in, not_in, contains (case-insensitive), present or absent.",
        json_schema_extra={"enum": list(OPS)},
    )
    values: list[str] | None = Field(
        None,
        description="The values (one for equals and contains).",
        json_schema_extra={"maxItems": MAX_FILTER_VALUES},
    )


class QueryBody(BaseModel):
    """A cost-over-time question (docs/analytics.md)."""

    model_config = ConfigDict(extra="forbid")
    metric: str | None = Field(
        None,
        description="BilledCost, EffectiveCost (default), ListCost, ...",
        json_schema_extra={"enum": [*METRICS, None]},
    )
    grain: str | None = Field(
        None,
        description="day (default), week (Monday, UTC), month or none.",
        json_schema_extra={"enum": [*GRAINS, None]},
    )
    groupBy: list[str] | None = Field(
        None,
        description="Up to 3 dimensions.",
        json_schema_extra={"maxItems": MAX_GROUP_BY, "uniqueItems": True, "items": _DIMENSION},
    )
    filters: list[FilterBody] | None = Field(None, json_schema_extra={"maxItems": MAX_FILTERS})
    start: str | None = Field(
        None,
        description="First charge day, YYYY-MM-DD (inclusive).",
        json_schema_extra={"pattern": DAY_PATTERN, "format": "date"},
    )
    end: str | None = Field(
        None,
        description="Charge day after the last, YYYY-MM-DD (exclusive).",
        json_schema_extra={"pattern": DAY_PATTERN, "format": "date"},
    )
    top: int | None = Field(
        None,
        description="Keep the largest N groups per currency; the rest is Other.",
        json_schema_extra={"minimum": 1},
    )
    sort: str | None = Field(
        None,
        description="value_desc (default), value_asc or group.",
        json_schema_extra={"enum": [*SORTS, None]},
    )
    currency: str | None = Field(
        None,
        description="Also convert to this currency with the workspace's rates.",
        json_schema_extra={"pattern": "^[A-Z]{3}$"},
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
        result = run_query(runtime.explorer, runtime.catalog, runtime.settings, scope_of(principal), query)
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


@router.post("/explorer/query", response_model=ExplorerResponse, responses={**DOWNLOADS, **ERRORS})
def explorer_query(
    body: QueryBody,
    principal: Reader,
    runtime: RuntimeDep,
    format: FormatParam = "json",
) -> Response:
    """Cost over time grouped, filtered and split by BillingCurrency, from the rollup or the live rows."""
    query = parse_body(body.model_dump(exclude_none=True), runtime)
    return answer(runtime, principal, query, format)
