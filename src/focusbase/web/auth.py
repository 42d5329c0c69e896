"""Pages: sign-in with an API key, sign-out, and the start page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from focusbase.tenancy.keys import authenticate_key
from focusbase.tenancy.providers import list_providers
from focusbase.web.core import (
    WebError,
    check_csrf,
    ensure_session,
    load_page,
    redirect,
    render,
    signed_in,
    start_session,
)

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    # Only paths of this site: never "//host" or "https://..." (an open redirect).
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/")
def home(request: Request) -> Response:
    """The start page: the first page this key may see."""
    page = signed_in(request)
    if page.can("read"):
        return redirect(page, "/cost")
    if page.can("admin"):
        return redirect(page, "/settings/integrations")
    principal = page.principal
    assert principal is not None
    providers = list_providers(page.runtime.catalog, principal.workspace_id, principal.provider_ids)
    if providers:
        return redirect(page, f"/settings/integrations/{providers[0].id}/history")
    raise WebError(403, "Nothing to show", "this key can see no provider and no cost data")


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    page = load_page(request)
    if page.principal is not None:
        return redirect(page, _safe_next(next))
    ensure_session(page)
    return render(page, "sign_in.html", next_path=_safe_next(next))


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Check the key once and start a session for it."""
    page = load_page(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    raw = str(form.get("key") or "").strip()
    next_path = _safe_next(str(form.get("next") or ""))
    principal = await run_in_threadpool(authenticate_key, page.runtime.catalog, raw) if raw else None
    if principal is None:
        message = (
            "enter an API key (fbk_key_...)" if not raw else "this API key is unknown, revoked or malformed"
        )
        page.principal = None
        return render(page, "sign_in.html", status=401, error=message, next_path=next_path)
    start_session(page, principal.key_id)
    return redirect(page, next_path)


@router.get("/sign-out")
def sign_out_link(request: Request) -> Response:
    """Signing out takes a form post (with its CSRF token); a plain link goes to the start page."""
    return redirect(load_page(request), "/")


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session in this browser."""
    page = load_page(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    page.principal = None
    start_session(page, None)
    return redirect(page, "/sign-in")
