"""Pages: webhook endpoints, create (secret shown once), rotate, test send, disable/enable, delete, log.

Every page calls notify.endpoints, as /api/v1/webhooks does, with its rules: the admin scope and a key of the
whole workspace (events report on every provider, so a provider-limited key cannot subscribe).
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from focusbase.notify import endpoints as service
from focusbase.notify.events import EVENT_TYPES
from focusbase.tenancy.principal import Principal
from focusbase.web.core import Page, WebError, check_csrf, redirect, render, signed_in

router = APIRouter(include_in_schema=False)
LOG_PAGE = 50
EVENT_HELP = {
    "anomaly.created": "a new cost anomaly",
    "budget.threshold_crossed": "a budget threshold crossed",
    "batch.committed": "a batch of rows stored",
    "batch.failed": "a batch refused or failed",
    "period.restated": "a closed month's figures changed",
}


def _admin(page: Page) -> Principal:
    principal = page.require("admin")
    if principal.provider_ids is not None:
        raise WebError(403, "Not allowed", "a key limited to some providers cannot manage webhooks")
    return principal


def _list(
    page: Page,
    principal: Principal,
    *,
    status: int = 200,
    error: str | None = None,
    error_field: str | None = None,
    values: dict[str, object] | None = None,
    notice: str | None = None,
) -> Response:
    return render(
        page,
        "webhooks.html",
        status=status,
        endpoints=service.list_endpoints(page.runtime, principal.workspace_id),
        event_types=EVENT_TYPES,
        event_help=EVENT_HELP,
        error=error,
        error_field=error_field,
        values=values or {"url": "", "description": "", "events": list(EVENT_TYPES)},
        notice=notice,
        allow_private=page.runtime.settings.webhook_allow_private_destinations,
    )


@router.get("/settings/webhooks")
def webhooks(request: Request, done: str | None = None, url: str | None = None) -> Response:
    """The workspace's webhook endpoints and the form of a new one."""
    page = signed_in(request)
    principal = _admin(page)
    notice = (
        f"Endpoint {url} was deleted with its pending deliveries and its log."
        if done == "deleted" and url
        else None
    )
    return _list(page, principal, notice=notice)


@router.post("/settings/webhooks")
async def create(request: Request) -> Response:
    """Create an endpoint (as POST /api/v1/webhooks); its signing secret is shown once."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = _admin(page)
    url = str(form.get("url") or "").strip()
    description = str(form.get("description") or "")
    chosen = [str(e) for e in form.getlist("events")]
    values: dict[str, object] = {"url": url, "description": description, "events": chosen}
    try:
        endpoint, secret = service.create_endpoint(
            page.runtime, principal.workspace_id, url=url, event_types=chosen, description=description
        )
    except service.InvalidEndpoint as exc:
        return _list(page, principal, status=400, error=str(exc), error_field=exc.field, values=values)
    return _detail(page, principal, endpoint.id, status=201, secret=secret, created=True)


def _before(token: str | None) -> int | None:
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text[1:]) if text.startswith("a") else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise WebError(
            400, "Invalid page link", "this page link is malformed: go back to the first page"
        ) from None


def _detail(
    page: Page,
    principal: Principal,
    endpoint_id: str,
    *,
    status: int = 200,
    secret: str | None = None,
    created: bool = False,
    notice: str | None = None,
    error: str | None = None,
    before: str | None = None,
) -> Response:
    endpoint = service.get_endpoint(page.runtime, principal.workspace_id, endpoint_id)
    if endpoint is None:
        raise WebError(
            404, "No such webhook endpoint", f"no webhook endpoint {endpoint_id} in this workspace"
        )
    attempts, counts = service.delivery_log(
        page.runtime, endpoint_id, before_id=_before(before), limit=LOG_PAGE
    )
    next_token = None
    if len(attempts) == LOG_PAGE:
        next_token = base64.urlsafe_b64encode(f"a{attempts[-1].id}".encode()).decode().rstrip("=")
    return render(
        page,
        "webhook.html",
        status=status,
        e=endpoint,
        attempts=attempts,
        counts=counts,
        secret=secret,
        created=created,
        notice=notice,
        error=error,
        next_token=next_token,
        first_page=before is None,
        event_help=EVENT_HELP,
    )


NOTICES = {
    "test": "A webhook.test event was queued for this endpoint; its delivery appears in the log below "
    "(reload to follow it).",
    "disabled": "Endpoint disabled: its deliveries are paused and wait until it is enabled again.",
    "enabled": "Endpoint enabled: pending deliveries are sent now.",
}


@router.get("/settings/webhooks/{endpoint_id}")
def webhook(
    request: Request, endpoint_id: str, done: str | None = None, before: str | None = None
) -> Response:
    """One endpoint: its settings, actions and delivery log (newest first)."""
    page = signed_in(request)
    principal = _admin(page)
    return _detail(page, principal, endpoint_id, notice=NOTICES.get(done or ""), before=before)


async def _posted(request: Request) -> tuple[Page, Principal]:
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    return page, _admin(page)


def _missing(endpoint_id: str) -> WebError:
    return WebError(404, "No such webhook endpoint", f"no webhook endpoint {endpoint_id} in this workspace")


@router.post("/settings/webhooks/{endpoint_id}/test")
async def send_test(request: Request, endpoint_id: str) -> Response:
    """Queue a webhook.test event for this endpoint (as POST .../test); a disabled endpoint refuses."""
    page, principal = await _posted(request)
    endpoint = service.get_endpoint(page.runtime, principal.workspace_id, endpoint_id)
    if endpoint is None:
        raise _missing(endpoint_id)
    if not endpoint.enabled:
        message = "This endpoint is disabled: enable it first, then send a test."
        return _detail(page, principal, endpoint_id, status=409, error=message)
    service.send_test(page.runtime, principal.workspace_id, endpoint_id)
    return redirect(page, f"/settings/webhooks/{endpoint_id}?done=test")


@router.post("/settings/webhooks/{endpoint_id}/rotate")
async def rotate(request: Request, endpoint_id: str) -> Response:
    """Issue a new secret, shown once; the previous one keeps signing for the grace period."""
    page, principal = await _posted(request)
    rotated = service.rotate_secret(page.runtime, principal.workspace_id, endpoint_id)
    if rotated is None:
        raise _missing(endpoint_id)
    return _detail(page, principal, endpoint_id, status=201, secret=rotated[1])


@router.post("/settings/webhooks/{endpoint_id}/enabled")
async def set_enabled(request: Request, endpoint_id: str) -> Response:
    """Disable (pause) or enable (resume pending deliveries) an endpoint."""
    page, principal = await _posted(request)
    enabled = (await request.form()).get("enabled") == "true"
    if service.update_endpoint(page.runtime, principal.workspace_id, endpoint_id, enabled=enabled) is None:
        raise _missing(endpoint_id)
    return redirect(page, f"/settings/webhooks/{endpoint_id}?done={'enabled' if enabled else 'disabled'}")


@router.get("/settings/webhooks/{endpoint_id}/delete")
def delete_confirm(request: Request, endpoint_id: str) -> Response:
    """Ask before deleting an endpoint."""
    page = signed_in(request)
    principal = _admin(page)
    endpoint = service.get_endpoint(page.runtime, principal.workspace_id, endpoint_id)
    if endpoint is None:
        raise _missing(endpoint_id)
    counts = service.delivery_log(page.runtime, endpoint_id, before_id=None, limit=1)[1]
    return render(page, "webhook_delete.html", e=endpoint, counts=counts)


@router.post("/settings/webhooks/{endpoint_id}/delete")
async def delete(request: Request, endpoint_id: str) -> Response:
    """Delete an endpoint with its pending deliveries and its log."""
    page, principal = await _posted(request)
    endpoint = service.get_endpoint(page.runtime, principal.workspace_id, endpoint_id)
    if endpoint is None or not service.delete_endpoint(page.runtime, principal.workspace_id, endpoint_id):
        raise _missing(endpoint_id)
    return redirect(page, "/settings/webhooks?done=deleted&url=" + quote(endpoint.url, safe=""))
