"""HTTP routes: the FOCUS Cost and Usage API under /focus/v1 (cost-and-usage, contract-commitments, schema).

The OpenAPI text of these routes is the seed document (api/openapi.py), not FastAPI's generated one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.api.ratelimit import rate_limit
from focusbase.focus import VERSIONS, Dataset
from focusbase.query import params as query_params
from focusbase.query.filters import FilterError, Scope
from focusbase.query.schema import schema_metadata
from focusbase.query.service import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    RecordPage,
    list_contract_commitments,
    list_cost_records,
)
from focusbase.query.tokens import PageTokenError
from focusbase.runtime import Runtime
from focusbase.tenancy.principal import Principal

PREFIX = "/focus/v1"
router = APIRouter(prefix=PREFIX, dependencies=[Depends(rate_limit("read"))])
Reader = Annotated[Principal, Depends(require_scope("read"))]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]

_COST_PARAMETERS = (
    "billingPeriodStart",
    "billingPeriodEnd",
    "chargeCategory",
    "providerName",
    "serviceName",
    "serviceCategory",
    "region",
    "resourceId",
    "subAccountId",
    "billingCurrency",
)
_COMMITMENT_PARAMETERS = ("commitmentDiscountId", "billingAccountId")


def _scope(principal: Principal) -> Scope:
    return Scope(principal.workspace_id, principal.provider_ids)


def _timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _page_response(page: RecordPage) -> Response:
    # The records arrive as JSON text built by the warehouse (exact decimals); only the envelope is added.
    envelope: dict[str, object] = {"nextPageToken": page.next_page_token, "totalRecords": page.total_records}
    if page.data_last_updated is not None:
        envelope["dataLastUpdated"] = _timestamp(page.data_last_updated)
    if page.data_completeness is not None:
        envelope["dataCompleteness"] = page.data_completeness
    tail = orjson.dumps(envelope)
    body = b'{"data":' + page.records_json.encode("utf-8") + b"," + tail[1:]
    return Response(content=body, media_type="application/json")


def _bad_parameter(exc: FilterError) -> ApiError:
    return ApiError(400, "invalid_parameter", f"invalid query parameter {exc}", details=exc.parameter)


def _bad_token(exc: PageTokenError) -> ApiError:
    return ApiError(400, "invalid_page_token", str(exc), details="pageToken")


def _given(request: Request, names: tuple[str, ...]) -> dict[str, str | None]:
    return {name: request.query_params.get(name) for name in names}


@router.get("/cost-and-usage")
def list_cost_and_usage(
    request: Request,
    principal: Reader,
    runtime: RuntimeDep,
    pageSize: PageSize = DEFAULT_PAGE_SIZE,
    pageToken: str | None = None,
) -> Response:
    """List FOCUS cost and usage records of the key's workspace (and providers), one keyset page at a time."""
    try:
        filters = query_params.cost_filters(_scope(principal), _given(request, _COST_PARAMETERS))
        page = list_cost_records(
            runtime.served,
            runtime.catalog,
            runtime.settings,
            filters,
            page_size=pageSize,
            page_token=pageToken,
        )
    except FilterError as exc:
        raise _bad_parameter(exc) from exc
    except PageTokenError as exc:
        raise _bad_token(exc) from exc
    return _page_response(page)


@router.get("/contract-commitments")
def list_contract_commitment_records(
    request: Request,
    principal: Reader,
    runtime: RuntimeDep,
    pageSize: PageSize = DEFAULT_PAGE_SIZE,
    pageToken: str | None = None,
) -> Response:
    """List FOCUS 1.3 Contract Commitment records of the key's workspace (and providers)."""
    filters = query_params.contract_commitment_filters(
        _scope(principal), _given(request, _COMMITMENT_PARAMETERS)
    )
    try:
        page = list_contract_commitments(
            runtime.served, runtime.settings, filters, page_size=pageSize, page_token=pageToken
        )
    except PageTokenError as exc:
        raise _bad_token(exc) from exc
    return _page_response(page)


@router.get("/schema")
def get_schema_metadata(
    principal: Reader,
    runtime: RuntimeDep,
    focusVersion: str = "1.3",
    dataset: str = "CostAndUsage",
) -> Response:
    """FOCUS schema metadata: version, data generator, datasets and a definition of every column served."""
    if focusVersion not in VERSIONS:
        raise ApiError(
            400,
            "invalid_parameter",
            f"focusVersion must be one of {', '.join(VERSIONS)}",
            details="focusVersion",
        )
    try:
        chosen = Dataset(dataset)
    except ValueError as exc:
        names = ", ".join(d.value for d in Dataset)
        raise ApiError(
            400, "invalid_parameter", f"dataset must be one of {names}", details="dataset"
        ) from exc
    metadata = schema_metadata(runtime.served, _scope(principal), version=focusVersion, dataset=chosen)
    return Response(content=orjson.dumps(metadata), media_type="application/json")
