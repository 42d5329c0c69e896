"""HTTP routes: providers, their ingest keys and finalised billing periods (admin scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.runtime import Runtime
from focusbase.tenancy.periods import (
    PERIOD_PATTERN,
    Finalization,
    PeriodNotEnded,
    finalize_period,
    list_finalized,
    parse_period,
)
from focusbase.tenancy.principal import Principal
from focusbase.tenancy.providers import (
    MAX_NAME_LENGTH,
    InvalidProvider,
    Provider,
    ProviderHasData,
    create_provider,
    delete_provider,
    get_provider,
    ingest_url,
    list_providers,
    rotate_ingest_key,
    update_provider,
)

router = APIRouter(prefix="/api/v1/providers", tags=["providers"])

Admin = Annotated[Principal, Depends(require_scope("admin"))]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ProviderId = Annotated[str, Path(description="The provider id (prv_...), also its ingest connectionId.")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request (the error envelope)."},
    401: {"description": "Missing or invalid API key."},
    403: {"description": "The key lacks the admin scope."},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such provider in this workspace."}}


# What the schema can say about the fields. The currency's form is documented only: the service checks it
# (and the code against ISO 4217) with a message that names the field.
_NAME_PATTERN = r"\S"
_CURRENCY_PATTERN = r"^\s*[A-Za-z]{3}\s*$"


class ProviderCreate(BaseModel):
    """A new provider."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        description="Display name; also the default ProviderName, PublisherName, InvoiceIssuerName.",
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        pattern=_NAME_PATTERN,
    )
    defaultCurrency: str = Field(
        description="ISO 4217 code used when a row has no BillingCurrency.",
        json_schema_extra={"pattern": _CURRENCY_PATTERN},
    )


class ProviderPatch(BaseModel):
    """Changes to a provider; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(
        None, description="New display name.", min_length=1, max_length=MAX_NAME_LENGTH, pattern=_NAME_PATTERN
    )
    defaultCurrency: str | None = Field(
        None, description="New ISO 4217 default currency.", json_schema_extra={"pattern": _CURRENCY_PATTERN}
    )


class ProviderOut(BaseModel):
    """A provider."""

    id: str
    name: str
    defaultCurrency: str
    createdAt: str
    updatedAt: str
    ingestKeyId: str | None
    ingestUrl: str
    rowCount: int | None = Field(None, description="Live Cost and Usage rows (list and get only).")


class ProviderCreated(ProviderOut):
    """A new provider with its ingest key, shown in this response only."""

    ingestKey: str


class ProviderList(BaseModel):
    """The workspace's providers."""

    providers: list[ProviderOut]


class IngestKeyOut(BaseModel):
    """A provider's new ingest key, shown in this response only; the previous key no longer works."""

    providerId: str
    keyId: str
    ingestKey: str
    ingestUrl: str


class ProviderDeleted(BaseModel):
    """What a provider deletion removed."""

    id: str
    deletedAt: str
    rowsDeleted: int
    costRowsDeleted: int
    contractCommitmentRowsDeleted: int


class PeriodOut(BaseModel):
    """A finalised billing period."""

    providerId: str
    period: str
    finalizedAt: str


class PeriodList(BaseModel):
    """A provider's finalised billing periods; other periods close periodCloseDays after they end."""

    providerId: str
    periodCloseDays: int
    finalizedPeriods: list[PeriodOut]


def _base_url(request: Request, runtime: Runtime) -> str:
    return runtime.settings.public_url or str(request.base_url)


def _out(provider: Provider, base: str, row_count: int | None = None) -> ProviderOut:
    return ProviderOut(
        id=provider.id,
        name=provider.name,
        defaultCurrency=provider.default_currency,
        createdAt=provider.created_at,
        updatedAt=provider.updated_at,
        ingestKeyId=provider.ingest_key_id,
        ingestUrl=ingest_url(base, provider.id),
        rowCount=row_count,
    )


def _visible_provider(runtime: Runtime, principal: Principal, provider_id: str) -> Provider:
    provider = get_provider(runtime.catalog, principal.workspace_id, provider_id)
    if provider is None or not principal.can_access_provider(provider_id):
        raise ApiError(404, "not_found", f"no provider {provider_id} in this workspace")
    return provider


def _invalid(exc: ValueError) -> ApiError:
    field = getattr(exc, "field", None)
    return ApiError(400, "invalid_request", str(exc), details={"field": field} if field else None)


@router.post("", status_code=201, response_model=ProviderCreated, responses=_ERRORS)
def create(body: ProviderCreate, request: Request, principal: Admin, runtime: RuntimeDep) -> ProviderCreated:
    """Create a provider; the response carries its ingest key, shown this once."""
    refusal = principal.provider_creation_refusal()
    if refusal is not None:
        raise ApiError(403, "forbidden", refusal)
    try:
        created = create_provider(
            runtime.catalog, principal.workspace_id, name=body.name, default_currency=body.defaultCurrency
        )
    except InvalidProvider as exc:
        raise _invalid(exc) from exc
    out = _out(created.provider, _base_url(request, runtime), 0)
    return ProviderCreated(**out.model_dump(), ingestKey=created.ingest_key.key)


@router.get("", response_model=ProviderList, responses=_ERRORS)
def list_all(request: Request, principal: Admin, runtime: RuntimeDep) -> ProviderList:
    """The workspace's providers, with their live row counts."""
    providers = list_providers(runtime.catalog, principal.workspace_id, principal.provider_ids)
    counts = runtime.insights.live_row_counts(principal.workspace_id)
    base = _base_url(request, runtime)
    return ProviderList(providers=[_out(p, base, counts.get(p.id, 0)) for p in providers])


@router.get("/{provider_id}", response_model=ProviderOut, responses={**_ERRORS, **_NOT_FOUND})
def get_one(provider_id: ProviderId, request: Request, principal: Admin, runtime: RuntimeDep) -> ProviderOut:
    """One provider."""
    provider = _visible_provider(runtime, principal, provider_id)
    counts = runtime.insights.live_row_counts(principal.workspace_id, provider.id)
    return _out(provider, _base_url(request, runtime), counts.get(provider.id, 0))


@router.patch("/{provider_id}", response_model=ProviderOut, responses={**_ERRORS, **_NOT_FOUND})
def patch(
    provider_id: ProviderId, body: ProviderPatch, request: Request, principal: Admin, runtime: RuntimeDep
) -> ProviderOut:
    """Rename a provider or change its default currency (used for rows pushed from now on)."""
    _visible_provider(runtime, principal, provider_id)
    try:
        updated = update_provider(
            runtime.catalog,
            principal.workspace_id,
            provider_id,
            name=body.name,
            default_currency=body.defaultCurrency,
        )
    except InvalidProvider as exc:
        raise _invalid(exc) from exc
    if updated is None:
        raise ApiError(404, "not_found", f"no provider {provider_id} in this workspace")
    return _out(updated, _base_url(request, runtime))


@router.delete(
    "/{provider_id}",
    response_model=ProviderDeleted,
    responses={
        **_ERRORS,
        **_NOT_FOUND,
        409: {"description": "The provider has stored rows; repeat with ?confirm=true to delete them."},
    },
)
def delete(
    provider_id: ProviderId,
    principal: Admin,
    runtime: RuntimeDep,
    confirm: Annotated[bool, Query(description="Also delete every row the provider stored.")] = False,
) -> ProviderDeleted:
    """Delete a provider and revoke its ingest key; with stored rows this needs ?confirm=true."""
    _visible_provider(runtime, principal, provider_id)
    try:
        result = delete_provider(
            runtime.catalog, runtime.ingest, principal.workspace_id, provider_id, confirm=confirm
        )
    except ProviderHasData as exc:
        raise ApiError(
            409,
            "provider_has_data",
            str(exc),
            details={
                "costRows": exc.counts["cost"],
                "contractCommitmentRows": exc.counts["contractCommitment"],
            },
            extra={"rows": exc.rows},
        ) from exc
    if result is None:
        raise ApiError(404, "not_found", f"no provider {provider_id} in this workspace")
    return ProviderDeleted(
        id=provider_id,
        deletedAt=result["deletedAt"],
        rowsDeleted=result["rows"],
        costRowsDeleted=result["cost"],
        contractCommitmentRowsDeleted=result["contractCommitment"],
    )


@router.post(
    "/{provider_id}/ingest-key",
    status_code=201,
    response_model=IngestKeyOut,
    responses={**_ERRORS, **_NOT_FOUND},
)
def rotate_key(
    provider_id: ProviderId, request: Request, principal: Admin, runtime: RuntimeDep
) -> IngestKeyOut:
    """Issue a new ingest key for the provider; the previous one stops working at once."""
    _visible_provider(runtime, principal, provider_id)
    new_key = rotate_ingest_key(runtime.catalog, principal.workspace_id, provider_id)
    if new_key is None:
        raise ApiError(404, "not_found", f"no provider {provider_id} in this workspace")
    return IngestKeyOut(
        providerId=provider_id,
        keyId=new_key.id,
        ingestKey=new_key.key,
        ingestUrl=ingest_url(_base_url(request, runtime), provider_id),
    )


def _period_out(finalization: Finalization) -> PeriodOut:
    return PeriodOut(
        providerId=finalization.provider_id, period=finalization.period, finalizedAt=finalization.finalized_at
    )


@router.post(
    "/{provider_id}/periods/{period}/finalize",
    status_code=201,
    response_model=PeriodOut,
    responses={
        **_ERRORS,
        **_NOT_FOUND,
        200: {"description": "The period was already final; nothing changed."},
        409: {"description": "The period has not ended yet."},
    },
)
def finalize(
    provider_id: ProviderId,
    period: Annotated[
        str,
        # The pattern is documented; parse_period checks the same form with a message that shows it.
        WithJsonSchema({"type": "string", "pattern": PERIOD_PATTERN}),
        Path(description="The billing month, YYYY-MM."),
    ],
    response: Response,
    principal: Admin,
    runtime: RuntimeDep,
) -> PeriodOut:
    """Declare a provider's billing month complete: FOCUS reads report it Complete from now on."""
    _visible_provider(runtime, principal, provider_id)
    try:
        finalization, created = finalize_period(runtime.catalog, provider_id, parse_period(period))
    except PeriodNotEnded as exc:
        raise ApiError(409, "period_not_ended", str(exc)) from exc
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from exc
    if not created:
        response.status_code = 200
    return _period_out(finalization)


@router.get("/{provider_id}/periods", response_model=PeriodList, responses={**_ERRORS, **_NOT_FOUND})
def periods(provider_id: ProviderId, principal: Admin, runtime: RuntimeDep) -> PeriodList:
    """The provider's finalised billing periods, oldest first."""
    _visible_provider(runtime, principal, provider_id)
    return PeriodList(
        providerId=provider_id,
        periodCloseDays=runtime.settings.period_close_days,
        finalizedPeriods=[_period_out(f) for f in list_finalized(runtime.catalog, provider_id)],
    )
