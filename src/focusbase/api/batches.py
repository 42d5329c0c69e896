"""HTTP routes: multi-part batches (open, parts, commit, abort), revert, and the History of batches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from starlette.concurrency import run_in_threadpool

from focusbase.api.deps import authenticate, get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.api.openapi import PAGE_TOKEN_DESCRIPTION, error_responses, page_token_schema
from focusbase.api.ratelimit import rate_limit
from focusbase.focus import Dataset
from focusbase.ingest import batches as service
from focusbase.ingest import history, revert, stager
from focusbase.ingest import push as push_service
from focusbase.ingest.model import Batch, IngestError, PartResult
from focusbase.runtime import Runtime
from focusbase.tenancy.principal import Principal
from focusbase.tenancy.providers import Provider, get_provider

router = APIRouter(tags=["batches"])
T = TypeVar("T")


def api_error(exc: IngestError) -> ApiError:
    """The HTTP error for an ingest service refusal."""
    return ApiError(exc.status, exc.code, exc.message, exc.details, headers=exc.headers, extra=exc.extra)


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call off the event loop, turning IngestError into the error envelope."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except IngestError as exc:
        raise api_error(exc) from None


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or date-time query value as naive UTC; 400 when unreadable."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(
            400, "invalid_request", f"{name} must be an ISO 8601 date or date-time, got {value!r}"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") + "Z" if value is not None else None


def batch_json(batch: Batch) -> dict[str, Any]:
    """A batch as History shows it (camelCase)."""
    return {
        "id": batch.id,
        "providerId": batch.provider_id,
        "dataset": batch.dataset.value,
        "source": batch.source,
        "mode": batch.mode,
        "window": {"start": _iso(batch.window_start), "end": _iso(batch.window_end)},
        "status": batch.status,
        "rowsReceived": batch.rows_received,
        "lineItemsCreated": batch.line_items_created,
        "rowsRejected": batch.rows_rejected,
        "replaced": batch.replaced,
        "sums": batch.sums,
        "defaultsApplied": batch.defaults_applied or {},
        "errors": batch.errors,
        "errorCount": batch.error_count,
        "idempotencyKey": batch.idempotency_key,
        "keyId": batch.key_id,
        "fileName": batch.file_name,
        "fileSize": batch.file_size,
        "mapping": batch.mapping,
        "progress": batch.progress,
        "failureReason": batch.failure_reason,
        "createdAt": _iso(batch.created_at),
        "updatedAt": _iso(batch.updated_at),
        "committedAt": _iso(batch.committed_at),
        "expiresAt": _iso(batch.expires_at),
    }


def part_json(batch_id: str, part: PartResult) -> dict[str, Any]:
    """What one part added to its batch."""
    return {
        "batchId": batch_id,
        "firstRow": part.first_row,
        "rowsReceived": part.rows_received,
        "rowsAccepted": part.rows_accepted,
        "rowsRejected": part.rows_rejected,
        "defaultsApplied": part.defaults_applied,
        "errors": part.errors,
        "errorCount": part.error_count,
    }


def provider_for(runtime: Runtime, principal: Principal, provider_id: str) -> Provider:
    """The provider if this key may use it: 404 when not in the key's workspace, 403 when barred."""
    provider = get_provider(runtime.catalog, principal.workspace_id, provider_id)
    if provider is None:
        raise ApiError(404, "not_found", f"provider {provider_id} not found")
    if not principal.can_access_provider(provider_id):
        raise ApiError(403, "forbidden", f"this key cannot use provider {provider_id}")
    return provider


def batch_for(runtime: Runtime, principal: Principal, batch_id: str) -> Batch:
    """A batch of the key's workspace and providers; 404 otherwise (other workspaces' ids do not exist)."""
    batch = service.get_batch(runtime, principal.workspace_id, batch_id)
    if batch is None or not principal.can_access_provider(batch.provider_id):
        raise ApiError(404, "not_found", f"batch {batch_id} not found")
    return batch


def history_reader(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """History is open to admin and read keys, and to an ingest key for its own provider's batches."""
    refusal = principal.history_refusal()
    if refusal is not None:
        raise ApiError(403, "forbidden", refusal)
    return principal


# The push envelope, for the OpenAPI document (the body is read raw: gzip and exact numbers).
ENVELOPE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The StackSpend FOCUS envelope (also a JSON array of rows, or NDJSON); gzip allowed.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["format", "version", "rows"],
                    "properties": {
                        "format": {"type": "string", "enum": ["stackspend.focus"]},
                        "version": {"type": "string", "enum": ["1"]},
                        "dataset": {"type": "string", "enum": ["CostAndUsage", "ContractCommitment"]},
                        "rows": {
                            "type": "array",
                            "items": {"type": "object", "additionalProperties": True},
                            "description": "FOCUS rows keyed by exact column names; x_ columns are kept.",
                        },
                    },
                }
            }
        },
    }
}

IngestKey = Annotated[Principal, Depends(require_scope("ingest"))]
AdminKey = Annotated[Principal, Depends(require_scope("admin"))]
Reader = Annotated[Principal, Depends(history_reader)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class OpenBatch(BaseModel):
    """Body of POST /api/v1/providers/{id}/batches."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["replace_days", "replace_range", "replace_months", "replace_all", "append"] | None = Field(
        None,
        description="CostAndUsage: replace_days (default), replace_range, replace_months or append;"
        " ContractCommitment: replace_all (default) or append.",
    )
    start: str | None = Field(
        None, description="replace_range: inclusive start (ISO 8601 date or date-time, UTC)."
    )
    end: str | None = Field(None, description="replace_range: exclusive end.")
    dataset: Literal["CostAndUsage", "ContractCommitment"] = Field(
        "CostAndUsage", description="CostAndUsage or ContractCommitment."
    )


@router.post(
    "/api/v1/providers/{provider_id}/batches", status_code=201, dependencies=[Depends(rate_limit("ingest"))]
)
async def open_batch(
    provider_id: str,
    body: OpenBatch,
    principal: IngestKey,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Open a multi-part batch for a provider; send parts, then commit (or DELETE to abort)."""
    provider = provider_for(runtime, principal, provider_id)
    try:
        dataset = Dataset.parse(body.dataset)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    batch = await call(
        service.create_batch,
        runtime,
        principal,
        provider,
        source="multipart",
        mode=body.mode,
        window_start=parse_time(body.start, "start"),
        window_end=parse_time(body.end, "end"),
        dataset=dataset,
    )
    return {"batchId": batch.id, **batch_json(batch)}


async def read_body(request: Request, limit: int) -> bytes:
    """The raw request body, refusing more than `limit` bytes on the wire with 413."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise api_error(push_service.too_large(limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise api_error(push_service.too_large(limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _add_part(
    runtime: Runtime,
    batch: Batch,
    raw: bytes,
    encoding: str | None,
    allow_partial: bool,
    first_row: int | None,
) -> PartResult:
    settings = runtime.settings
    data = push_service.decode_body(raw, encoding, settings.max_body_bytes)
    payload = push_service.read_payload(data, settings)
    if push_service.payload_dataset(payload) is not batch.dataset:
        raise IngestError(
            400,
            "dataset_mismatch",
            f"batch {batch.id} holds {batch.dataset.value} rows; the part names another",
        )
    return service.add_part(runtime, batch, payload.table, allow_partial=allow_partial, first_row=first_row)


@router.post(
    "/api/v1/batches/{batch_id}/parts",
    dependencies=[Depends(rate_limit("ingest"))],
    openapi_extra=ENVELOPE_BODY,
    responses=error_responses(
        409,
        413,
        415,
        422,
        s409="The batch is not open, or is being committed.",
        s413="Body or row count over the limits.",
        s415="A Content-Encoding other than gzip.",
        s422="Rows rejected (with errors); the batch failed.",
    ),
)
async def add_part(
    batch_id: str,
    request: Request,
    principal: IngestKey,
    runtime: RuntimeDep,
    allow_partial: bool = Query(
        False, alias="allowPartial", description="Store the valid rows of this part."
    ),
    first_row: int | None = Query(
        None,
        alias="firstRow",
        ge=1,
        description="1-based number of the part's first row (default: the next).",
    ),
) -> dict[str, Any]:
    """Add rows (the push envelope, gzip allowed) to an open batch; row numbers continue across parts."""
    batch = batch_for(runtime, principal, batch_id)
    raw = await read_body(request, runtime.settings.max_body_bytes)
    part = await call(
        _add_part, runtime, batch, raw, request.headers.get("content-encoding"), allow_partial, first_row
    )
    return part_json(batch_id, part)


@router.post(
    "/api/v1/batches/{batch_id}/commit",
    dependencies=[Depends(rate_limit("ingest"))],
    responses=error_responses(
        409,
        422,
        s409="The batch is not open, or a part is still being processed.",
        s422="The batch's rows are invalid as a whole; nothing was stored.",
    ),
)
async def commit_batch(
    batch_id: str,
    principal: IngestKey,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Commit an open batch: store its rows and supersede what it replaces, atomically."""
    batch = batch_for(runtime, principal, batch_id)
    summary = await call(service.commit_batch, runtime, batch)
    return summary.as_json()


@router.delete("/api/v1/batches/{batch_id}", responses=error_responses(409, s409="The batch is not open."))
async def abort_batch(
    batch_id: str,
    principal: IngestKey,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Abort an open batch; nothing it staged is stored."""
    batch = batch_for(runtime, principal, batch_id)
    return batch_json(await call(service.abort_batch, runtime, batch))


@router.post(
    "/api/v1/batches/{batch_id}/revert",
    responses=error_responses(
        409, s409="revert_conflict or revert_unavailable: later batches or pruned versions."
    ),
)
async def revert_batch(
    batch_id: str,
    principal: AdminKey,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Restore what a committed batch replaced and withdraw its rows, atomically."""
    batch = batch_for(runtime, principal, batch_id)
    return batch_json(await call(revert.revert_batch, runtime, batch))


@router.get("/api/v1/batches/{batch_id}")
async def get_batch(batch_id: str, principal: Reader, runtime: RuntimeDep) -> dict[str, Any]:
    """One batch with its counts, sums, replaced data, defaults and errors."""
    # Authorise first: a foreign or unknown id is 404 at once, without waiting for anyone's parts.
    batch_for(runtime, principal, batch_id)
    # Parts already answered are counted: wait for the stager to have written them.
    await run_in_threadpool(stager.wait_until_staged, batch_id)
    return batch_json(batch_for(runtime, principal, batch_id))


@router.get("/api/v1/providers/{provider_id}/batches")
async def list_batches(
    provider_id: str,
    principal: Reader,
    runtime: RuntimeDep,
    page_size: int = Query(50, alias="pageSize", ge=1, le=500),
    page_token: Annotated[
        str | None,
        # The form is documented; the service refuses anything but its own tokens with invalid_page_token.
        WithJsonSchema(page_token_schema()),
        Query(alias="pageToken", description=PAGE_TOKEN_DESCRIPTION),
    ] = None,
) -> dict[str, Any]:
    """History: a provider's batches, newest first, with a signed keyset pageToken."""
    provider_for(runtime, principal, provider_id)
    await run_in_threadpool(stager.wait_until_all_staged)
    page = await call(
        history.history_page,
        runtime,
        principal.workspace_id,
        provider_id,
        page_size=page_size,
        page_token=page_token,
    )
    return {"batches": [batch_json(b) for b in page.batches], "nextPageToken": page.next_page_token}
