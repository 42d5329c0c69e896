"""HTTP route: commitment savings (`GET /api/v1/savings`), per BillingCurrency and per commitment."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from focusbase.analytics.explorer import ExplorerError
from focusbase.analytics.model import QueryError
from focusbase.analytics.savings import build_savings
from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.api.explorer import ERRORS, day_param, parse_day, scope_of
from focusbase.api.ratelimit import rate_limit
from focusbase.runtime import Runtime
from focusbase.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["analytics"], dependencies=[Depends(rate_limit("read"))])
Reader = Annotated[Principal, Depends(require_scope("read"))]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class MissingPrices(BaseModel):
    """Rows (and their EffectiveCost) lacking ListCost or ContractedCost, and their share of the rows."""

    rowsWithoutListCost: int
    rowsWithoutContractedCost: int
    shareOfRowsWithoutListCost: str | None
    shareOfRowsWithoutContractedCost: str | None
    effectiveCostWithoutListCost: str
    effectiveCostWithoutContractedCost: str


class CurrencySavings(BaseModel):
    """Savings, coverage and utilisation in one BillingCurrency (amounts exact, ratios to 6 places)."""

    currency: str | None
    rows: int
    listCost: str
    contractedCost: str
    effectiveCost: str
    billedCost: str
    negotiatedSavings: str
    commitmentSavings: str
    totalSavings: str
    effectiveSavingsRate: str | None
    coveredCost: str
    onDemandCost: str
    coverage: str | None
    utilization: str | None
    unusedCommitmentCost: str
    commitmentPurchaseCost: str
    missingPrices: MissingPrices


class CommitmentSavings(BaseModel):
    """One commitment discount in one currency, with its FOCUS 1.3 Contract Commitment when present."""

    commitmentDiscountId: str
    currency: str | None
    name: str | None
    category: str | None
    type: str | None
    unit: str | None
    rows: int
    usedCost: str
    unusedCost: str
    usedQuantity: str | None
    unusedQuantity: str | None
    utilization: str | None
    costUtilization: str | None
    quantityUtilization: str | None
    listCost: str
    contractedCost: str
    effectiveCost: str
    savingsVsList: str
    savingsVsContracted: str
    purchaseCost: str
    contractCommitment: dict[str, Any] | None = Field(None, description="Joined on ContractCommitmentId.")


class SavingsResponse(BaseModel):
    """Savings per currency (`totals`) and per commitment."""

    start: str | None
    end: str | None
    totals: list[CurrencySavings]
    commitments: list[CommitmentSavings]
    commitmentsTruncated: bool = Field(
        description="True when more than explorer_max_groups commitments matched."
    )


@router.get("/savings", response_model=SavingsResponse, responses=ERRORS)
def savings(
    principal: Reader,
    runtime: RuntimeDep,
    start: Annotated[str | None, day_param("First charge day, YYYY-MM-DD (inclusive).")] = None,
    end: Annotated[str | None, day_param("Charge day after the last, YYYY-MM-DD (exclusive).")] = None,
) -> Response:
    """Commitment utilisation, coverage, savings rate, unused cost, savings vs list and contracted prices."""
    try:
        body = build_savings(
            runtime.insights,
            runtime.settings,
            scope_of(principal),
            start=parse_day(start, "start"),
            end=parse_day(end, "end"),
        )
    except QueryError as exc:
        raise ApiError(400, "invalid_query", f"invalid query: {exc}", details=exc.field) from exc
    except ExplorerError as exc:
        raise ApiError(exc.status, exc.code, exc.message, details=exc.field) from exc
    return Response(orjson.dumps(body), media_type="application/json")
