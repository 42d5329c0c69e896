"""Pages: a provider's Import data tab: upload, review the proposed mapping, preview, import.

The same services as POST /api/v1/providers/{id}/imports/preview and /imports: the upload is spooled
with ingest/uploads.py, previewed with ingest/preview.py and imported with ingest/imports.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from focusbase.focus import Dataset
from focusbase.ingest import imports as import_service
from focusbase.ingest import preview as preview_service
from focusbase.ingest.background import run_import_in_background
from focusbase.ingest.model import IngestError, modes_for
from focusbase.ingest.uploads import UploadError, spool_multipart
from focusbase.observability import record_rate_limited
from focusbase.tenancy.providers import Provider
from focusbase.web import uploads
from focusbase.web.core import Page, WebError, check_csrf, redirect, render, signed_in, visible_provider
from focusbase.web.mapping_form import FormError, constants, document_from_form, editor_rows, focus_columns

router = APIRouter(include_in_schema=False)
MODES = modes_for(Dataset.COST_AND_USAGE)


def _context(page: Page, provider_id: str) -> tuple[Provider, str]:
    principal = page.require("ingest")
    return visible_provider(page, provider_id), principal.key_id


def _count_ingest(page: Page, key_id: str) -> None:
    # Previews and imports count against the key's ingest rate limit, the same bucket as the API's.
    limiter: Any = page.request.app.state.rate_limiter
    decision = limiter.hit("ingest", f"key:{key_id}")
    if decision is not None and not decision.allowed:
        record_rate_limited("ingest")
        raise WebError(
            429,
            "Too many requests",
            f"this key has used its {decision.limit} ingest requests a minute: try again in "
            f"{decision.retry_after} seconds",
        )


def _saved(page: Page, provider: Provider) -> dict[str, Any] | None:
    return import_service.get_saved_mapping(page.runtime, provider)


@router.get("/settings/integrations/{provider_id}/import")
def import_tab(request: Request, provider_id: str) -> Response:
    """Upload a CSV, CSV.gz or Parquet file to preview its mapping."""
    page = signed_in(request)
    provider, _ = _context(page, provider_id)
    return render(page, "import.html", provider=provider, tab="import", saved=_saved(page, provider))


def _editor(
    page: Page,
    provider: Provider,
    upload_id: str,
    preview: dict[str, Any] | None,
    *,
    status: int = 200,
    document: dict[str, Any] | None = None,
    header: list[str] | None = None,
    error: dict[str, Any] | None = None,
    settings: dict[str, str] | None = None,
) -> Response:
    if preview is not None:
        document = preview["mapping"]
        header = preview["file"]["columns"]
    assert document is not None and header is not None
    proposals = preview["proposals"] if preview else []
    rows = editor_rows(document, header, proposals)
    preview_columns: list[str] = []
    if preview and preview["rows"]:
        preview_columns = [
            c for c in preview["rows"][0] if any(r.get(c) is not None for r in preview["rows"])
        ]
    return render(
        page,
        "import.html",
        status=status,
        provider=provider,
        tab="import",
        saved=_saved(page, provider),
        upload_id=upload_id,
        preview=preview,
        rows=rows,
        constants=constants(document),
        options=document.get("options", {}),
        focus_columns=focus_columns(),
        preview_columns=preview_columns,
        error=error,
        modes=MODES,
        settings=settings or {"mode": "replace_days", "start": "", "end": "", "allowPartial": ""},
    )


async def _preview(
    page: Page, provider: Provider, upload_id: str, key_id: str, document: Any
) -> dict[str, Any]:
    upload = uploads.find(upload_id, provider.id, key_id)
    if upload is None or upload.path is None:
        raise WebError(
            410,
            "Upload expired",
            "this upload is no longer kept (after an hour, or once imported): upload it again",
        )
    mapping = import_service.parse_mapping_document(document) if document is not None else None
    return await run_in_threadpool(
        preview_service.preview_import,
        page.runtime,
        provider,
        upload.path,
        file_name=upload.file_name,
        file_size=upload.size,
        dataset=Dataset.COST_AND_USAGE,
        mapping=mapping,
    )


def _error(exc: IngestError) -> dict[str, Any]:
    extra = exc.extra or {}
    return {
        "code": exc.code,
        "message": exc.message,
        "problems": extra.get("problems") or [],
        "errors": extra.get("errors") or [],
        "errorCount": extra.get("errorCount"),
    }


async def _upload(page: Page, provider: Provider, key_id: str) -> Response:
    runtime = page.runtime
    header_token = page.request.headers.get("x-csrf-token")
    if header_token is not None:
        check_csrf(page, None)  # refuse before reading a large body
        _count_ingest(page, key_id)
    directory = uploads.upload_dir(runtime.settings.data_dir)
    await run_in_threadpool(uploads.sweep, directory)
    try:
        upload = await spool_multipart(
            page.request.stream(),
            page.request.headers.get("content-type"),
            directory,
            max_bytes=runtime.settings.import_max_bytes,
        )
    except UploadError as exc:
        return render(
            page,
            "import.html",
            status=exc.status,
            provider=provider,
            tab="import",
            saved=_saved(page, provider),
            upload_error=exc.message,
        )
    if header_token is None:
        try:
            check_csrf(page, upload.fields.get("csrf_token"))
            _count_ingest(page, key_id)
        except WebError:
            await run_in_threadpool(upload.discard)
            raise
    upload_id = uploads.keep(upload, provider.id, key_id)
    try:
        preview = await _preview(page, provider, upload_id, key_id, None)
        if preview["mappingSource"] == "auto" and preview["suggestedMapping"] != preview["mapping"]:
            # Show the suggestions filled in for review; nothing is imported until the user confirms them.
            suggested = dict(preview["suggestedMapping"])
            reviewed = await _preview(page, provider, upload_id, key_id, suggested)
            reviewed["mappingSource"] = "suggested"
            preview = reviewed
    except IngestError as exc:
        uploads.discard(upload_id)
        return render(
            page,
            "import.html",
            status=exc.status,
            provider=provider,
            tab="import",
            saved=_saved(page, provider),
            upload_error=exc.message,
        )
    return _editor(page, provider, upload_id, preview)


def _header_from_form(form: Any) -> list[str]:
    seen: list[str] = []
    count = str(form.get("rows") or "0")
    for i in range(int(count) if count.isdigit() else 0):
        source = str(form.get(f"h{i}") or "")
        if source and source not in seen:
            seen.append(source)
    return seen


def _settings(form: Any) -> dict[str, str]:
    return {name: str(form.get(name) or "") for name in ("mode", "start", "end", "allowPartial")}


async def _with_form(page: Page, provider: Provider, key_id: str, form: Any, *, run: bool) -> Response:
    upload_id = str(form.get("upload") or "")
    settings = _settings(form)
    try:
        document = document_from_form(form)
    except FormError as exc:
        return _editor(
            page,
            provider,
            upload_id,
            None,
            status=400,
            document={},
            header=_header_from_form(form),
            error={"code": "invalid_mapping", "message": str(exc), "problems": [], "errors": []},
            settings=settings,
        )
    try:
        preview = await _preview(page, provider, upload_id, key_id, document)
    except IngestError as exc:
        return _editor(
            page,
            provider,
            upload_id,
            None,
            status=exc.status,
            document=document,
            header=_header_from_form(form),
            error=_error(exc),
            settings=settings,
        )
    if not run:
        return _editor(page, provider, upload_id, preview, settings=settings)
    return await _run(page, provider, key_id, upload_id, document, preview, settings)


async def _run(
    page: Page,
    provider: Provider,
    key_id: str,
    upload_id: str,
    document: dict[str, Any],
    preview: dict[str, Any],
    settings: dict[str, str],
) -> Response:
    runtime = page.runtime
    principal = page.principal
    assert principal is not None
    upload = uploads.find(upload_id, provider.id, key_id)
    if upload is None or upload.path is None:
        raise WebError(410, "Upload expired", "this upload is no longer kept: upload it again")
    try:
        started = await run_in_threadpool(
            import_service.start_import,
            runtime,
            principal,
            provider,
            upload.path,
            file_name=upload.file_name,
            file_size=upload.size,
            dataset=Dataset.COST_AND_USAGE,
            mapping=import_service.parse_mapping_document(document),
            mode=settings["mode"] or None,
            window_start=_time(settings["start"], "start"),
            window_end=_time(settings["end"], "end"),
            allow_partial=settings["allowPartial"] in ("on", "true"),
        )
        if import_service.runs_in_background(runtime.settings, started, upload.size):
            run_import_in_background(runtime, started, lambda: uploads.discard(upload_id))
            return redirect(page, f"/settings/integrations/{provider.id}/history")
        summary = await run_in_threadpool(import_service.run_import, runtime, started)
    except IngestError as exc:
        return _editor(
            page, provider, upload_id, preview, status=exc.status, error=_error(exc), settings=settings
        )
    uploads.discard(upload_id)
    return render(page, "import_done.html", provider=provider, tab="import", batch=summary.batch)


def _time(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise IngestError(
            400, "invalid_request", f"{name} must be an ISO 8601 date or date-time, got {text!r}"
        ) from None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


@router.get("/settings/integrations/{provider_id}/import/preview")
@router.get("/settings/integrations/{provider_id}/import/run")
def back_to_import(request: Request, provider_id: str) -> Response:
    """A reload or bookmark of a form's result: back to the tab."""
    page = signed_in(request)
    return redirect(page, f"/settings/integrations/{provider_id}/import")


@router.post("/settings/integrations/{provider_id}/import/preview")
async def preview(request: Request, provider_id: str) -> Response:
    """Preview an uploaded file (multipart), or the kept upload again with the edited mapping."""
    page = signed_in(request)
    provider, key_id = _context(page, provider_id)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        return await _upload(page, provider, key_id)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    _count_ingest(page, key_id)
    return await _with_form(page, provider, key_id, form, run=False)


@router.post("/settings/integrations/{provider_id}/import/run")
async def run(request: Request, provider_id: str) -> Response:
    """Import the kept upload with the mapping on the form; the mapping is saved for next time."""
    page = signed_in(request)
    provider, key_id = _context(page, provider_id)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    _count_ingest(page, key_id)
    return await _with_form(page, provider, key_id, form, run=True)
