"""Pages: API keys of the workspace: create (shown once) and revoke, by the management API's rules."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from focusbase.tenancy.apikeys import (
    KeyRequestForbidden,
    KeyRequestInvalid,
    create_api_key,
    list_visible_keys,
    revoke_visible_key,
)
from focusbase.tenancy.keys import NewKey
from focusbase.tenancy.principal import SCOPES
from focusbase.tenancy.providers import list_providers
from focusbase.web.core import Page, WebError, check_csrf, redirect, render, signed_in

router = APIRouter(include_in_schema=False)


def _render(
    page: Page,
    *,
    status: int = 200,
    new_key: NewKey | None = None,
    error: str | None = None,
    values: dict[str, object] | None = None,
    notice: str | None = None,
) -> Response:
    principal = page.principal
    assert principal is not None
    return render(
        page,
        "keys.html",
        status=status,
        keys=list_visible_keys(page.runtime.catalog, principal),
        providers=list_providers(page.runtime.catalog, principal.workspace_id, principal.provider_ids),
        scopes=SCOPES,
        new_key=new_key,
        error=error,
        values=values or {"name": "", "scopes": ["read"], "providers": []},
        notice=notice,
    )


@router.get("/settings/keys")
def keys(request: Request, done: str | None = None, key: str | None = None) -> Response:
    """The workspace's keys the caller may see, revoked ones included."""
    page = signed_in(request)
    page.require("admin")
    notice = (
        f"Key {key} was revoked; it is refused from the next request." if done == "revoked" and key else None
    )
    return _render(page, notice=notice)


@router.post("/settings/keys")
async def create(request: Request) -> Response:
    """Create a key with scopes and, optionally, providers; its text is shown once."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = page.require("admin")
    name = str(form.get("name") or "")
    scopes = [str(s) for s in form.getlist("scopes")]
    chosen = [str(p) for p in form.getlist("providers")]
    values: dict[str, object] = {"name": name, "scopes": scopes, "providers": chosen}
    try:
        new = create_api_key(
            page.runtime.catalog, principal, name=name, scopes=scopes, provider_ids=chosen or None
        )
    except KeyRequestInvalid as exc:
        return _render(page, status=400, error=str(exc), values=values)
    except KeyRequestForbidden as exc:
        return _render(page, status=403, error=str(exc), values=values)
    return _render(page, status=201, new_key=new)


@router.get("/settings/keys/{key_id}/revoke")
def revoke_confirm(request: Request, key_id: str) -> Response:
    """Ask before revoking a key."""
    page = signed_in(request)
    principal = page.require("admin")
    found = next((k for k in list_visible_keys(page.runtime.catalog, principal) if k["id"] == key_id), None)
    if found is None or found["revokedAt"] is not None:
        raise WebError(404, "No such key", f"no active key {key_id} in this workspace")
    return render(page, "key_revoke.html", key=found, own=key_id == principal.key_id)


@router.post("/settings/keys/{key_id}/revoke")
async def revoke(request: Request, key_id: str) -> Response:
    """Revoke a key; it stops working at once (revoking your own key signs you out)."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = page.require("admin")
    if not revoke_visible_key(page.runtime.catalog, principal, key_id):
        raise WebError(404, "No such key", f"no active key {key_id} in this workspace")
    return redirect(page, f"/settings/keys?done=revoked&key={key_id}")
