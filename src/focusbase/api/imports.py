"""HTTP routes: file import (preview, import, saved column mapping)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from focusbase.api.batches import IngestKey, RuntimeDep, api_error, batch_json, call, parse_time, provider_for
from focusbase.api.errors import ApiError
from focusbase.api.openapi import error_responses
from focusbase.api.ratelimit import rate_limit
from focusbase.focus import Dataset
from focusbase.ingest import batches as batch_service
from focusbase.ingest import imports as service
from focusbase.ingest import preview as preview_service
from focusbase.ingest.background import run_import_in_background
from focusbase.ingest.mapping import ImportOptions, Mapping
from focusbase.ingest.model import IngestError
from focusbase.ingest.uploads import Upload, UploadError, spool_dir, spool_multipart
from focusbase.runtime import Runtime

router = APIRouter(tags=["imports"])

_MULTIPART = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV, CSV.gz or Parquet.",
                        },
                        "mapping": {"type": "string", "description": "The mapping document, as JSON."},
                        "options": {"type": "string", "description": "Reading options, as JSON."},
                        "encoding": {"type": "string", "description": "Shortcut for options.encoding."},
                        "delimiter": {"type": "string", "description": "Shortcut for options.delimiter."},
                        "dataset": {
                            "type": "string",
                            "description": "CostAndUsage (default) or ContractCommitment.",
                        },
                        "mode": {"type": "string", "description": "Replace mode, as for push."},
                        "start": {"type": "string", "description": "replace_range: inclusive start."},
                        "end": {"type": "string", "description": "replace_range: exclusive end."},
                        "allowPartial": {"type": "boolean", "description": "Store the valid rows."},
                        "saveMapping": {
                            "type": "boolean",
                            "description": "Save a sent mapping (default true).",
                        },
                    },
                }
            }
        },
        "required": True,
    }
}


async def _spool(request: Request, runtime: Runtime) -> Upload:
    try:
        return await spool_multipart(
            request.stream(),
            request.headers.get("content-type"),
            spool_dir(runtime.settings.data_dir),
            max_bytes=runtime.settings.import_max_bytes,
        )
    except UploadError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


def _json_field(upload: Upload, name: str) -> Any:
    text = upload.fields.get(name)
    if text is None or not text.strip():
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_request", f"form field {name!r} is not valid JSON: {exc}") from None


def _flag(upload: Upload, name: str, default: bool) -> bool:
    text = upload.fields.get(name)
    if text is None or text == "":
        return default
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ApiError(400, "invalid_request", f"form field {name!r} must be true or false, got {text!r}")


def _dataset(upload: Upload) -> Dataset:
    text = upload.fields.get("dataset")
    if not text:
        return Dataset.COST_AND_USAGE
    try:
        return Dataset.parse(text)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None


def _mapping_and_options(upload: Upload) -> tuple[Mapping | None, ImportOptions | None]:
    try:
        document = _json_field(upload, "mapping")
        mapping = service.parse_mapping_document(document) if document is not None else None
        raw_options = _json_field(upload, "options") or {}
        if not isinstance(raw_options, dict):
            raise ApiError(400, "invalid_options", "form field 'options' must be a JSON object")
        for key in ("encoding", "delimiter"):
            if upload.fields.get(key):
                raw_options[key] = upload.fields[key]
        options = service.parse_options(raw_options) if raw_options else None
    except IngestError as exc:
        raise api_error(exc) from None
    return mapping, options


@router.post(
    "/api/v1/providers/{provider_id}/imports/preview",
    dependencies=[Depends(rate_limit("ingest"))],
    openapi_extra=_MULTIPART,
    responses=error_responses(
        413, 415, 422, s413="The upload is over the import limits.", s422="The file cannot be read."
    ),
)
async def preview_import(
    provider_id: str, request: Request, principal: IngestKey, runtime: RuntimeDep
) -> Any:
    """Preview a file import: detected format, proposed mapping, first rows after mapping, sample findings."""
    provider = provider_for(runtime, principal, provider_id)
    upload = await _spool(request, runtime)
    try:
        mapping, options = _mapping_and_options(upload)
        return await call(
            preview_service.preview_import,
            runtime,
            provider,
            upload.path,
            file_name=upload.file_name,
            file_size=upload.size,
            dataset=_dataset(upload),
            mapping=mapping,
            options=options,
        )
    finally:
        await run_in_threadpool(upload.discard)


def _import_body(
    started: service.StartedImport, summary: dict[str, Any] | None, batch: Any
) -> dict[str, Any]:
    plan = started.plan
    body = dict(summary) if summary is not None else {"batchId": started.batch.id, "status": batch.status}
    body.update(
        {
            "source": batch.source,
            "fileName": batch.file_name,
            "fileSize": batch.file_size,
            "dataset": plan.dataset.value,
            "mappingSource": plan.origin,
            "mapping": plan.mapping.to_json(),
            "detectedExport": plan.export.to_json() if plan.export else None,
            "notes": plan.notes,
            "progress": batch.progress,
            "batch": batch_json(batch),
        }
    )
    return body


@router.post(
    "/api/v1/providers/{provider_id}/imports",
    dependencies=[Depends(rate_limit("ingest"))],
    openapi_extra=_MULTIPART,
    responses={
        202: {"description": "A large file: the import runs in the background; follow the batch."},
        **error_responses(
            409,
            413,
            415,
            422,
            503,
            s409="Another batch conflicts with this import (for example the same Idempotency-Key).",
            s413="The upload is over the import limits.",
            s422="The file cannot be read or mapped, or rows are invalid (nothing stored).",
            s503="The import was interrupted by a server shutdown; nothing was stored.",
        ),
    },
)
async def import_file(provider_id: str, request: Request, principal: IngestKey, runtime: RuntimeDep) -> Any:
    """Import a CSV, CSV.gz or Parquet file into one batch that commits atomically."""
    provider = provider_for(runtime, principal, provider_id)
    upload = await _spool(request, runtime)
    background = False
    try:
        mapping, options = _mapping_and_options(upload)
        started = await call(
            service.start_import,
            runtime,
            principal,
            provider,
            upload.path,
            file_name=upload.file_name,
            file_size=upload.size,
            dataset=_dataset(upload),
            mapping=mapping,
            options=options,
            mode=upload.fields.get("mode") or None,
            window_start=parse_time(upload.fields.get("start"), "start"),
            window_end=parse_time(upload.fields.get("end"), "end"),
            allow_partial=_flag(upload, "allowPartial", False),
            save_mapping_used=_flag(upload, "saveMapping", True),
        )
        if service.runs_in_background(runtime.settings, started, upload.size):
            run_import_in_background(runtime, started, upload.discard)
            background = True
            batch = batch_service.get_batch(runtime, principal.workspace_id, started.batch.id)
            return JSONResponse(_import_body(started, None, batch), status_code=202)
        summary = await call(service.run_import, runtime, started)
        batch = batch_service.get_batch(runtime, principal.workspace_id, started.batch.id)
        return _import_body(started, summary.as_json(), batch)
    finally:
        if not background:
            await run_in_threadpool(upload.discard)


@router.get("/api/v1/providers/{provider_id}/mapping")
async def get_mapping(provider_id: str, principal: IngestKey, runtime: RuntimeDep) -> Any:
    """The provider's saved column mapping, used by imports whose file it fits."""
    provider = provider_for(runtime, principal, provider_id)
    saved = await run_in_threadpool(service.get_saved_mapping, runtime, provider)
    if saved is None:
        raise ApiError(404, "not_found", f"provider {provider_id} has no saved mapping")
    return {"providerId": provider.id, **saved}


@router.put(
    "/api/v1/providers/{provider_id}/mapping",
    responses=error_responses(422, s422="The mapping leaves columns unmapped or maps nothing."),
)
async def put_mapping(
    provider_id: str,
    principal: IngestKey,
    runtime: RuntimeDep,
    document: Annotated[dict[str, Any], Body(description="The mapping document.")],
) -> Any:
    """Save the provider's column mapping; later imports use it when it fits the file."""
    provider = provider_for(runtime, principal, provider_id)
    saved = await call(service.save_mapping, runtime, provider, document)
    return {"providerId": provider.id, **saved}


@router.delete("/api/v1/providers/{provider_id}/mapping", status_code=204, response_class=Response)
async def delete_mapping(provider_id: str, principal: IngestKey, runtime: RuntimeDep) -> Response:
    """Forget the provider's saved column mapping."""
    provider = provider_for(runtime, principal, provider_id)
    if not await run_in_threadpool(service.delete_saved_mapping, runtime, provider):
        raise ApiError(404, "not_found", f"provider {provider_id} has no saved mapping")
    return Response(status_code=204)
