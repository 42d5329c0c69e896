"""HTTP routes: export jobs of the FOCUS Cost and Usage API, and their signed downloads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.api.openapi import error_responses
from focusbase.api.ratelimit import rate_limit
from focusbase.export import lifecycle, service, signing
from focusbase.export.spec import ExportRequestError, ExportSpec
from focusbase.query.filters import QUERY_PARAMETERS, FilterError, Scope
from focusbase.runtime import Runtime
from focusbase.tenancy.principal import Principal

router = APIRouter(
    prefix="/focus/v1/cost-and-usage/export",
    tags=["Cost and Usage"],
    dependencies=[Depends(rate_limit("read"))],
)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Reader = Annotated[Principal, Depends(require_scope("read"))]
_FILTER_ATTRS = {
    param: attr for attr, param in QUERY_PARAMETERS.items() if not attr.startswith("billing_period")
}


class ExportRequest(BaseModel):
    """The seed's ExportRequest plus focusbase extensions (FOCUS version, compression, list filters)."""

    model_config = ConfigDict(extra="forbid")

    billingPeriodStart: datetime = Field(
        description="Inclusive start of the window (rows by BillingPeriodStart)."
    )
    billingPeriodEnd: datetime = Field(description="Exclusive end of the window.")
    format: Literal["csv", "parquet", "json"] = Field("csv", description="csv, parquet or json (NDJSON).")
    includeContractCommitments: StrictBool = Field(
        False, description="Also export contract commitments (a zip)."
    )
    focusVersion: Literal["1.0", "1.1", "1.2", "1.3"] = Field(
        "1.3", description="FOCUS version of the files."
    )
    compression: Literal["gzip"] | None = Field(None, description="gzip for csv and json.")
    chargeCategory: str | None = Field(None, description="Only rows with this ChargeCategory.")
    providerName: str | None = Field(None, description="Only rows with this ProviderName.")
    serviceName: str | None = Field(None, description="Only rows with this ServiceName.")
    serviceCategory: str | None = Field(None, description="Only rows with this ServiceCategory.")
    region: str | None = Field(None, description="Only rows with this RegionId.")
    resourceId: str | None = Field(None, description="Only rows with this ResourceId.")
    subAccountId: str | None = Field(None, description="Only rows with this SubAccountId.")
    billingCurrency: str | None = Field(None, description="Only rows with this BillingCurrency.")

    @field_validator("billingPeriodStart", "billingPeriodEnd", mode="before")
    @classmethod
    def _date_time_text(cls, value: Any) -> Any:
        # The document says string (date-time): a number is not read as a Unix time.
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 date-time string")
        return value


class ExportProgress(BaseModel):
    """How far a job has got."""

    rowsWritten: int
    totalRows: int | None
    percent: float | None


class ExportJobResponse(BaseModel):
    """The seed's ExportJobResponse plus progress, file facts and retention."""

    jobId: str
    status: Literal["Pending", "Processing", "Complete", "Failed"]
    createdAt: str
    completedAt: str | None = None
    downloadUrl: str | None = None
    recordCount: int | None = None
    error: str | None = None
    progress: ExportProgress
    recordCounts: dict[str, int] | None = None
    format: str
    focusVersion: str
    compression: str | None = None
    includeContractCommitments: bool
    fileName: str | None = None
    fileSize: int | None = None
    expiresAt: str | None = None
    expired: bool = False


def _spec(body: ExportRequest) -> ExportSpec:
    filters = {
        attr: getattr(body, param)
        for param, attr in _FILTER_ATTRS.items()
        if getattr(body, param) is not None
    }
    try:
        spec = ExportSpec(
            billing_period_start=body.billingPeriodStart,
            billing_period_end=body.billingPeriodEnd,
            format=body.format,
            focus_version=body.focusVersion,
            compression=body.compression,
            include_contract_commitments=body.includeContractCommitments,
            filters=filters,
        )
        spec.cost_filters(Scope("check"))  # the read API's own filter checks (chargeCategory values)
    except (ExportRequestError, FilterError) as exc:
        name = exc.field if isinstance(exc, ExportRequestError) else exc.parameter
        problem = str(exc).removeprefix(f"{name}: ")
        raise ApiError(
            400,
            "invalid_request",
            f"invalid request: {exc}",
            [{"location": f"body.{name}", "message": problem}],
        ) from exc
    return spec


def _response(request: Request, runtime: Runtime, job: service.JobRecord) -> ExportJobResponse:
    facts = service.job_facts(job)
    download_url = None
    if service.job_file(runtime.settings, job) is not None:
        base = (runtime.settings.public_url or str(request.base_url)).rstrip("/")
        not_after = (
            datetime.fromisoformat(job.expires_at.replace("Z", "+00:00")).timestamp()
            if job.expires_at
            else None
        )
        query = signing.download_query(signing.server_secret(runtime.settings), job.id, not_after=not_after)
        download_url = f"{base}{router.prefix}/{job.id}/download?{query}"
    total = job.total_rows
    percent = None
    if job.status == service.COMPLETE:
        percent = 100.0
    elif total:
        percent = round(100.0 * job.rows_written / total, 1)
    elif total == 0:
        percent = 0.0
    return ExportJobResponse(
        jobId=job.id,
        status=job.status,
        createdAt=job.created_at,
        completedAt=job.completed_at if job.status in (service.COMPLETE, service.FAILED) else None,
        downloadUrl=download_url,
        recordCount=job.record_count,
        error=job.error if job.status == service.FAILED else None,
        progress=ExportProgress(rowsWritten=job.rows_written, totalRows=total, percent=percent),
        recordCounts=service.record_counts(job),
        format=facts.format,
        focusVersion=facts.focus_version,
        compression=facts.compression,
        includeContractCommitments=facts.include_contract_commitments,
        fileName=job.file_name,
        fileSize=job.file_size,
        expiresAt=job.expires_at,
        expired=job.expired_at is not None,
    )


@router.post("", status_code=202, response_model=ExportJobResponse, operation_id="exportCostAndUsage")
def export_cost_and_usage(
    body: ExportRequest,
    request: Request,
    runtime: RuntimeDep,
    principal: Reader,
) -> ExportJobResponse:
    """Start an export of the caller's cost and usage rows; poll the job for its download URL."""
    job = service.create_export(runtime.catalog, principal, _spec(body))
    lifecycle.notify(runtime)
    return _response(request, runtime, job)


@router.get("/{jobId}", response_model=ExportJobResponse, operation_id="getCostAndUsageExportStatus")
def get_export_status(
    jobId: str,
    request: Request,
    runtime: RuntimeDep,
    principal: Reader,
) -> ExportJobResponse:
    """The status, progress and (when Complete) signed download URL of an export job."""
    try:
        job = service.get_export(runtime.catalog, principal, jobId)
    except service.ExportNotFound as exc:
        raise ApiError(404, "export_not_found", f"no export job {jobId!r} in this workspace") from exc
    return _response(request, runtime, job)


@router.get(
    "/{jobId}/download",
    response_class=FileResponse,
    operation_id="downloadCostAndUsageExport",
    responses=error_responses(
        403,
        404,
        410,
        s403="invalid_signature or download_link_expired: fetch the job for a fresh link.",
        s404="No such job, or it has no file.",
        s410="export_expired: the file was deleted after its retention period.",
    ),
)
def download_export(
    jobId: str,
    runtime: RuntimeDep,
    expires: Annotated[int, Query(description="Unix time after which the link stops working.")],
    signature: Annotated[
        str, Query(description="HMAC of the job id and expiry, from the job's downloadUrl.")
    ],
) -> FileResponse:
    """The export file, for the signed, expiring link in the job's downloadUrl (no API key needed)."""
    problem = signing.check_signature(signing.server_secret(runtime.settings), jobId, expires, signature)
    if problem == "invalid":
        raise ApiError(
            403, "invalid_signature", "the download link is not valid; fetch the job for a fresh one"
        )
    if problem == "expired":
        raise ApiError(
            403, "download_link_expired", "the download link has expired; fetch the job for a fresh one"
        )
    try:
        download = service.download_for(runtime.settings, runtime.catalog, jobId)
    except service.ExportExpired as exc:
        raise ApiError(
            410, "export_expired", "the export file was deleted after its retention period"
        ) from exc
    except service.ExportNotFound as exc:
        raise ApiError(404, "export_not_found", f"export job {jobId!r} has no file to download") from exc
    return FileResponse(download.path, media_type=download.media_type, filename=download.file_name)


def openapi_extensions(doc: dict[str, Any]) -> None:
    """Describe the export extensions in a seed-based OpenAPI document (a correction for api/openapi.py).

    Adds the request properties (focusVersion, compression, the list endpoint's filters) and the response
    properties (progress, recordCounts, file facts, retention); ExportRequest rejects unknown properties.
    """
    schemas = doc["components"]["schemas"]
    request_schema = ExportRequest.model_json_schema()
    request = schemas["ExportRequest"]
    for name, prop in request_schema["properties"].items():
        request["properties"].setdefault(name, _plain(prop))
    request["additionalProperties"] = False
    response_schema = ExportJobResponse.model_json_schema(ref_template="#/components/schemas/Export{model}")
    response = schemas["ExportJobResponse"]
    for name, prop in response_schema["properties"].items():
        if name == "progress":
            prop = _plain(response_schema["$defs"]["ExportProgress"])
        response["properties"].setdefault(name, _plain(prop))


def _plain(prop: dict[str, Any]) -> dict[str, Any]:
    # pydantic writes `anyOf: [X, null]` and titles; the seed style is a plain type with nullable.
    out = {k: v for k, v in prop.items() if k not in ("title", "anyOf", "default")}
    variants = [v for v in prop.get("anyOf", []) if v.get("type") != "null"]
    if variants:
        out.update({k: v for k, v in variants[0].items() if k != "title"})
        out["nullable"] = True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "properties" in out:
        out["properties"] = {k: _plain(v) for k, v in out["properties"].items()}
    return out
