"""HTTP routes: budgets, their CSV import and their monthly status (admin scope)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.budgets import csv_import, service
from focusbase.budgets.model import Budget, InvalidBudget
from focusbase.runtime import Runtime
from focusbase.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1/budgets", tags=["budgets"])

Admin = Annotated[Principal, Depends(require_scope("admin"))]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
BudgetId = Annotated[str, Path(description="The budget id (bud_...).", max_length=64)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request (the error envelope); `details.field` names the field."},
    401: {"description": "Missing or invalid API key."},
    403: {"description": "The key lacks the admin scope, or is limited to some providers."},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such budget in this workspace."}}


class Scope(BaseModel):
    """What a budget measures: a provider ({"kind": "provider", "id": "prv_..."}) or a saved view's filtered
    spend ({"kind": "view", "id": "view_..."})."""

    kind: Literal["provider", "view"]
    id: str


class BudgetBody(BaseModel):
    """A budget; on update, omitted fields stay as they are and `amounts` merge month by month."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    scope: dict[str, Any] | None = Field(
        None, description='{"kind": "provider", "id": "prv_..."} or {"kind": "view", "id": "view_..."}'
    )
    currency: str | None = Field(None, description="ISO 4217 code; only rows in this currency count.")
    costColumn: str | None = Field(None, description="BilledCost (default) or EffectiveCost.")
    amounts: dict[str, Any] | None = Field(
        None, description='Monthly amounts as decimal strings: {"2026-06": "1000.00"}; null removes a month.'
    )
    thresholds: list[Any] | None = Field(
        None,
        description='[{"kind": "actual", "percent": "80"}, {"kind": "forecast", "probability": "0.5"}]; '
        "default actual 80 and 100 percent and forecast 0.5.",
    )


class ThresholdOut(BaseModel):
    """A threshold: `percent` of the amount (actual) or `probability` of ending above it (forecast)."""

    kind: str
    percent: str | None = None
    probability: str | None = None


class BudgetOut(BaseModel):
    """A budget."""

    id: str
    name: str
    scope: Scope
    currency: str
    costColumn: str
    amounts: dict[str, str]
    thresholds: list[ThresholdOut]
    createdAt: str
    updatedAt: str


class BudgetList(BaseModel):
    """The workspace's budgets."""

    budgets: list[BudgetOut]


class ThresholdStatusOut(ThresholdOut):
    """A threshold in a month: crossed by the current figures, and when it fired (once per month)."""

    crossed: bool
    firedAt: str | None
    eventId: str | None


class BudgetStatus(BaseModel):
    """A budget's month: amount, actual to date, projected month-end and thresholds."""

    budgetId: str
    period: str
    currency: str
    amount: str | None
    actual: str | None
    projected: str | None
    probabilityAboveBudget: float | None
    forecastMethod: str | None = Field(
        description="forecast (the calibrated forecast), run-rate (history too short) or actual (month over)."
    )
    forecastModel: str | None = Field(description="The forecast model the backtest chose (method forecast).")
    projectedLower: str | None = Field(description="The month-end total's 80% band (method forecast).")
    projectedUpper: str | None
    lastDayWithData: str | None
    thresholds: list[ThresholdStatusOut]


class ImportedBudget(BaseModel):
    """A budget the import created or updated."""

    id: str
    name: str


class ImportResult(BaseModel):
    """What a CSV import stored."""

    created: list[ImportedBudget]
    updated: list[ImportedBudget]
    monthsSet: int
    ignoredColumns: list[str]
    skipped: list[str] = Field(description="Budgets without any amount (Vantage parent budgets), not stored.")


def _out(budget: Budget) -> BudgetOut:
    return BudgetOut(
        id=budget.id,
        name=budget.name,
        scope=Scope(kind="view" if budget.scope_kind == "view" else "provider", id=budget.scope_id),
        currency=budget.currency,
        costColumn=budget.cost_column,
        amounts={p: format(a, "f") for p, a in budget.amounts.items()},
        thresholds=[ThresholdOut(**t.as_json()) for t in budget.thresholds],
        createdAt=budget.created_at,
        updatedAt=budget.updated_at,
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _invalid(exc: InvalidBudget) -> ApiError:
    status = 409 if exc.code == "budget_exists" else 400
    return ApiError(status, exc.code, str(exc), details={"field": exc.field})


def _not_found(budget_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no budget {budget_id} in this workspace")


def _whole_workspace(principal: Principal) -> None:
    if principal.provider_ids is not None:
        raise ApiError(403, "forbidden", "a key limited to some providers cannot manage budgets")


@router.post(
    "", status_code=201, response_model=BudgetOut, responses={**_ERRORS, 409: {"description": "Name taken."}}
)
def create(body: BudgetBody, principal: Admin, runtime: RuntimeDep) -> BudgetOut:
    """Create a budget on a provider or a saved view, in one currency, with monthly amounts and thresholds."""
    _whole_workspace(principal)
    try:
        budget = service.create_budget(runtime, principal.workspace_id, body.model_dump(exclude_unset=True))
    except InvalidBudget as exc:
        raise _invalid(exc) from exc
    return _out(budget)


@router.get("", response_model=BudgetList, responses=_ERRORS)
def list_all(principal: Admin, runtime: RuntimeDep) -> BudgetList:
    """The workspace's budgets, by name."""
    _whole_workspace(principal)
    return BudgetList(budgets=[_out(b) for b in service.list_budgets(runtime, principal.workspace_id)])


@router.post(
    "/import",
    response_model=ImportResult,
    responses={
        **_ERRORS,
        413: {"description": "The file is larger than 1 MiB."},
        422: {"description": "Rows cannot be imported (each named with row and column); nothing was stored."},
    },
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_csv(
    request: Request,
    principal: Admin,
    runtime: RuntimeDep,
    providerId: Annotated[
        str | None,
        Query(max_length=64, description="Provider of rows without a Provider or View column value."),
    ] = None,
    currency: Annotated[
        str | None, Query(max_length=3, description="Currency of rows without a Currency column.")
    ] = None,
    overwrite: Annotated[
        bool, Query(description="Update budgets whose name exists (months given are replaced).")
    ] = False,
) -> ImportResult:
    """Import budgets from a Vantage budget CSV (`Budget Name,2026-01,2026-02,...`), sent as the body.

    Optional Provider, View and Currency columns choose each budget's scope and currency.
    """
    _whole_workspace(principal)
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > csv_import.MAX_CSV_BYTES:
            raise ApiError(
                413, "payload_too_large", f"the CSV is larger than {csv_import.MAX_CSV_BYTES} bytes"
            )
    try:
        result = await asyncio.to_thread(
            csv_import.import_budgets,
            runtime,
            principal.workspace_id,
            bytes(data),
            provider_id=providerId,
            currency=currency,
            overwrite=overwrite,
        )
    except csv_import.BudgetImportError as exc:
        raise ApiError(
            422, "budget_import_invalid", str(exc), details=exc.errors, extra={"errors": exc.errors}
        ) from exc
    return ImportResult(
        created=[ImportedBudget(id=i, name=n) for i, n in result.created],
        updated=[ImportedBudget(id=i, name=n) for i, n in result.updated],
        monthsSet=result.months_set,
        ignoredColumns=result.ignored_columns,
        skipped=result.skipped,
    )


@router.get("/{budget_id}", response_model=BudgetOut, responses={**_ERRORS, **_NOT_FOUND})
def get_one(budget_id: BudgetId, principal: Admin, runtime: RuntimeDep) -> BudgetOut:
    """One budget."""
    _whole_workspace(principal)
    budget = service.get_budget(runtime, principal.workspace_id, budget_id)
    if budget is None:
        raise _not_found(budget_id)
    return _out(budget)


@router.patch("/{budget_id}", response_model=BudgetOut, responses={**_ERRORS, **_NOT_FOUND})
def patch(budget_id: BudgetId, body: BudgetBody, principal: Admin, runtime: RuntimeDep) -> BudgetOut:
    """Change a budget; amounts merge by month (null removes one)."""
    _whole_workspace(principal)
    try:
        budget = service.update_budget(
            runtime, principal.workspace_id, budget_id, body.model_dump(exclude_unset=True)
        )
    except InvalidBudget as exc:
        raise _invalid(exc) from exc
    if budget is None:
        raise _not_found(budget_id)
    return _out(budget)


@router.delete("/{budget_id}", status_code=204, responses={**_ERRORS, **_NOT_FOUND})
def delete(budget_id: BudgetId, principal: Admin, runtime: RuntimeDep) -> Response:
    """Delete a budget and the record of the thresholds it fired."""
    _whole_workspace(principal)
    if not service.delete_budget(runtime, principal.workspace_id, budget_id):
        raise _not_found(budget_id)
    return Response(status_code=204)


@router.get("/{budget_id}/status", response_model=BudgetStatus, responses={**_ERRORS, **_NOT_FOUND})
def status(
    budget_id: BudgetId,
    principal: Admin,
    runtime: RuntimeDep,
    period: Annotated[str | None, Query(max_length=7, description="YYYY-MM; default this UTC month.")] = None,
) -> BudgetStatus:
    """Actual spend to date, projected month-end spend and the thresholds crossed, for one month."""
    _whole_workspace(principal)
    budget = service.get_budget(runtime, principal.workspace_id, budget_id)
    if budget is None:
        raise _not_found(budget_id)
    try:
        result = service.budget_status(runtime, budget, period)
    except InvalidBudget as exc:
        raise _invalid(exc) from exc
    projection = result.projection
    return BudgetStatus(
        budgetId=budget.id,
        period=result.period,
        currency=budget.currency,
        amount=format(result.amount, "f") if result.amount is not None else None,
        actual=str(projection.actual) if projection else None,
        projected=str(projection.projected) if projection else None,
        probabilityAboveBudget=round(projection.probability_above, 4) if projection else None,
        forecastMethod=projection.method if projection else None,
        forecastModel=projection.model if projection else None,
        projectedLower=_text(projection.lower) if projection else None,
        projectedUpper=_text(projection.upper) if projection else None,
        lastDayWithData=projection.last_day_with_data.isoformat()
        if projection and projection.last_day_with_data
        else None,
        thresholds=[
            ThresholdStatusOut(
                **t.threshold.as_json(), crossed=t.crossed, firedAt=t.fired_at, eventId=t.event_id
            )
            for t in result.thresholds
        ],
    )
