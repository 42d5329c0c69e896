"""Pages: a provider's History tab (every batch with its counts and errors) and reverting a batch."""

from __future__ import annotations

import base64
from datetime import datetime

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from focusbase.ingest import batches as batch_service
from focusbase.ingest import stager
from focusbase.ingest.model import Batch, IngestError
from focusbase.ingest.revert import revert_batch
from focusbase.web.core import Page, WebError, check_csrf, redirect, render, signed_in, visible_provider

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
NOTICES = {
    "reverted": "Batch {batch} was reverted: its rows are withdrawn and the rows it replaced are live again."
}


def _token(batch: Batch) -> str:
    raw = orjson.dumps([batch.created_at.isoformat(), batch.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(token: str | None) -> tuple[datetime, str] | None:
    if not token:
        return None
    try:
        created, batch_id = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return datetime.fromisoformat(created), str(batch_id)
    except (ValueError, TypeError):
        raise WebError(400, "Bad link", "this History page link is not one this server made") from None


def _history_access(page: Page) -> None:
    assert page.principal is not None
    refusal = page.principal.history_refusal()
    if refusal is not None:
        raise WebError(403, "Not allowed", refusal)


@router.get("/settings/integrations/{provider_id}/history")
async def history(
    request: Request,
    provider_id: str,
    older: str | None = None,
    done: str | None = None,
    batch: str | None = None,
) -> Response:
    """The provider's batches, newest first, as GET /api/v1/providers/{id}/batches lists them."""
    page = signed_in(request)
    _history_access(page)
    provider = visible_provider(page, provider_id)
    assert page.principal is not None
    await run_in_threadpool(stager.wait_until_all_staged)
    found = await run_in_threadpool(
        batch_service.list_batches,
        page.runtime,
        page.principal.workspace_id,
        provider.id,
        limit=PAGE_SIZE + 1,
        after=_after(older),
    )
    shown = found[:PAGE_SIZE]
    notice = NOTICES[done].format(batch=batch) if done in NOTICES and batch else None
    return render(
        page,
        "history.html",
        provider=provider,
        tab="history",
        batches=shown,
        older=_token(shown[-1]) if len(found) > PAGE_SIZE else None,
        notice=notice,
    )


def _batch(page: Page, provider_id: str, batch_id: str) -> Batch:
    assert page.principal is not None
    found = batch_service.get_batch(page.runtime, page.principal.workspace_id, batch_id)
    if (
        found is None
        or found.provider_id != provider_id
        or not page.principal.can_access_provider(found.provider_id)
    ):
        raise WebError(404, "No such batch", f"batch {batch_id} not found")
    return found


@router.get("/settings/integrations/{provider_id}/history/{batch_id}/revert")
def revert_confirm(request: Request, provider_id: str, batch_id: str) -> Response:
    """Ask before reverting: what the batch stored and what comes back."""
    page = signed_in(request)
    page.require("admin")
    provider = visible_provider(page, provider_id)
    return render(
        page, "revert.html", provider=provider, tab="history", batch=_batch(page, provider.id, batch_id)
    )


@router.post("/settings/integrations/{provider_id}/history/{batch_id}/revert")
async def revert(request: Request, provider_id: str, batch_id: str) -> Response:
    """Revert a committed batch (POST /api/v1/batches/{id}/revert)."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    page.require("admin")
    provider = visible_provider(page, provider_id)
    found = _batch(page, provider.id, batch_id)
    try:
        await run_in_threadpool(revert_batch, page.runtime, found)
    except IngestError as exc:
        return render(
            page,
            "revert.html",
            status=exc.status,
            provider=provider,
            tab="history",
            batch=found,
            error=exc.message,
        )
    return redirect(page, f"/settings/integrations/{provider.id}/history?done=reverted&batch={found.id}")
