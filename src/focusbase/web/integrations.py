"""Pages: Settings -> Integrations: providers, the Custom provider form, and the API key & ingest URL tab."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from focusbase.tenancy.principal import Principal
from focusbase.tenancy.providers import (
    InvalidProvider,
    Provider,
    create_provider,
    delete_provider,
    ingest_url,
    list_providers,
    rotate_ingest_key,
    update_provider,
)
from focusbase.web.core import (
    Page,
    WebError,
    base_url,
    check_csrf,
    redirect,
    render,
    signed_in,
    visible_provider,
)

router = APIRouter(include_in_schema=False)

# The body of the curl example: the StackSpend custom-provider request, exactly.
EXAMPLE_BODY = """{
  "format": "stackspend.focus",
  "version": "1",
  "rows": [
    {
      "ChargePeriodStart": "2026-06-01",
      "ChargePeriodEnd": "2026-06-02",
      "BilledCost": 12.50,
      "EffectiveCost": 12.50,
      "BillingCurrency": "USD",
      "ChargeCategory": "Usage",
      "ServiceName": "Compute",
      "RegionId": "us-east-1",
      "Tags": { "env": "prod" }
    }
  ]
}"""


def curl_example(url: str, key: str | None) -> str:
    """A ready-to-run push of the example body to this ingest URL."""
    indented = EXAMPLE_BODY.replace("\n", "\n  ")
    return (
        f'curl -X POST "{url}" \\\n'
        f'  -H "Authorization: Bearer {key or "YOUR_INGEST_KEY"}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{indented}'"
    )


def _require_creator(page: Page) -> Principal:
    principal = page.require("admin")
    refusal = principal.provider_creation_refusal()
    if refusal is not None:
        raise WebError(403, "Not allowed", refusal)
    return principal


@router.get("/settings/integrations")
async def integrations(request: Request, deleted: str | None = None) -> Response:
    """The workspace's providers, as GET /api/v1/providers lists them."""
    page = signed_in(request)
    principal = page.require("admin")
    runtime = page.runtime
    providers = list_providers(runtime.catalog, principal.workspace_id, principal.provider_ids)
    counts = await run_in_threadpool(runtime.insights.live_row_counts, principal.workspace_id)
    return render(
        page,
        "integrations.html",
        providers=providers,
        counts=counts,
        may_create=principal.provider_creation_refusal() is None,
        notice=f"Provider {deleted} was deleted with its stored rows." if deleted else None,
    )


@router.get("/settings/integrations/new")
def new_provider_form(request: Request) -> Response:
    """The Custom provider form: display name and default currency."""
    page = signed_in(request)
    _require_creator(page)
    return render(page, "provider_new.html", values={"name": "", "currency": "USD"}, errors={})


@router.post("/settings/integrations/new")
async def create(request: Request) -> Response:
    """Create the provider and show its ingest key once."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = _require_creator(page)
    values = {"name": str(form.get("name") or ""), "currency": str(form.get("currency") or "")}
    try:
        created = create_provider(
            page.runtime.catalog,
            principal.workspace_id,
            name=values["name"],
            default_currency=values["currency"],
        )
    except InvalidProvider as exc:
        field = {"defaultCurrency": "currency"}.get(exc.field or "", exc.field or "name")
        return render(page, "provider_new.html", status=400, values=values, errors={field: str(exc)})
    return _key_tab(page, created.provider, status=201, new_key=created.ingest_key.key, just_created=True)


def _key_tab(
    page: Page,
    provider: Provider,
    *,
    status: int = 200,
    new_key: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    just_created: bool = False,
) -> Response:
    url = ingest_url(base_url(page), provider.id)
    return render(
        page,
        "provider_key.html",
        status=status,
        provider=provider,
        tab="key",
        url=url,
        new_key=new_key,
        curl=curl_example(url, new_key),
        values=values or {"name": provider.name, "currency": provider.default_currency},
        errors=errors or {},
        notice=notice,
        just_created=just_created,
    )


@router.get("/settings/integrations/{provider_id}")
def provider_key_tab(request: Request, provider_id: str, done: str | None = None) -> Response:
    """The provider's API key & ingest URL tab, with its settings."""
    page = signed_in(request)
    page.require("admin")
    provider = visible_provider(page, provider_id)
    notice = "Saved: rows pushed from now on use the new name and currency." if done == "saved" else None
    return _key_tab(page, provider, notice=notice)


@router.post("/settings/integrations/{provider_id}/settings")
async def save_settings(request: Request, provider_id: str) -> Response:
    """Rename the provider or change its default currency (PATCH /api/v1/providers/{id})."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = page.require("admin")
    provider = visible_provider(page, provider_id)
    values = {"name": str(form.get("name") or ""), "currency": str(form.get("currency") or "")}
    try:
        updated = update_provider(
            page.runtime.catalog,
            principal.workspace_id,
            provider.id,
            name=values["name"],
            default_currency=values["currency"],
        )
    except InvalidProvider as exc:
        field = {"defaultCurrency": "currency"}.get(exc.field or "", exc.field or "name")
        return _key_tab(page, provider, status=400, values=values, errors={field: str(exc)})
    if updated is None:
        raise WebError(404, "No such provider", f"no provider {provider_id} in this workspace")
    return redirect(page, f"/settings/integrations/{provider.id}?done=saved")


@router.get("/settings/integrations/{provider_id}/delete")
async def delete_confirm(request: Request, provider_id: str) -> Response:
    """Ask before deleting: how many stored rows go with the provider."""
    page = signed_in(request)
    principal = page.require("admin")
    provider = visible_provider(page, provider_id)
    counts = await run_in_threadpool(
        page.runtime.ingest.stored_row_counts, principal.workspace_id, provider.id
    )
    return render(page, "provider_delete.html", provider=provider, tab="key", counts=counts)


@router.post("/settings/integrations/{provider_id}/delete")
async def delete(request: Request, provider_id: str) -> Response:
    """Delete the provider, its ingest key and every row it stored (DELETE ...?confirm=true)."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = page.require("admin")
    provider = visible_provider(page, provider_id)
    result = await run_in_threadpool(
        delete_provider,
        page.runtime.catalog,
        page.runtime.ingest,
        principal.workspace_id,
        provider.id,
        confirm=True,
    )
    if result is None:
        raise WebError(404, "No such provider", f"no provider {provider_id} in this workspace")
    return redirect(page, f"/settings/integrations?deleted={quote(provider.name)}")


@router.get("/settings/integrations/{provider_id}/ingest-key")
def back_to_key_tab(request: Request, provider_id: str) -> Response:
    """A reload of the rotation's result: back to the tab (a new key is only ever shown once)."""
    page = signed_in(request)
    return redirect(page, f"/settings/integrations/{provider_id}")


@router.post("/settings/integrations/{provider_id}/ingest-key")
async def rotate(request: Request, provider_id: str) -> Response:
    """Issue a new ingest key (shown once); the previous one stops working at once."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = page.require("admin")
    provider = visible_provider(page, provider_id)
    new_key = rotate_ingest_key(page.runtime.catalog, principal.workspace_id, provider.id)
    if new_key is None:
        raise WebError(404, "No such provider", f"no provider {provider_id} in this workspace")
    return _key_tab(page, visible_provider(page, provider_id), new_key=new_key.key)
