"""Pages: budgets, the list with this month's status, create, edit, delete, and the Vantage CSV import.

Every page calls budgets.service and budgets.csv_import, as /api/v1/budgets does, with its rules: the admin
scope, and a key of the whole workspace (a key limited to some providers cannot manage budgets). A budget's
scope is a provider or one of the workspace's saved views, chosen in one select as `provider:<id>` or
`view:<id>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from focusbase.analytics.views import View, list_views
from focusbase.budgets import csv_import, service
from focusbase.budgets.model import COST_COLUMNS, DEFAULT_THRESHOLDS, Budget, InvalidBudget
from focusbase.tenancy.principal import Principal
from focusbase.tenancy.providers import Provider, list_providers
from focusbase.web.core import Page, WebError, check_csrf, redirect, render, signed_in

router = APIRouter(include_in_schema=False)
MONTHS_SHOWN = 12


def _admin(page: Page) -> Principal:
    principal = page.require("admin")
    if principal.provider_ids is not None:
        raise WebError(403, "Not allowed", "a key limited to some providers cannot manage budgets")
    return principal


def _providers(page: Page, principal: Principal) -> list[Provider]:
    return list_providers(page.runtime.catalog, principal.workspace_id, principal.provider_ids)


def _views(page: Page, principal: Principal) -> list[View]:
    return list_views(page.runtime.catalog, page.runtime.settings, principal.workspace_id)


def _scope_names(page: Page, principal: Principal) -> dict[tuple[str, str], str]:
    """The name of each scope a budget may have, by (kind, id)."""
    names = {("provider", p.id): p.name for p in _providers(page, principal)}
    return names | {("view", v.id): v.name for v in _views(page, principal)}


def _months(start: str, count: int) -> list[str]:
    year, month = int(start[:4]), int(start[5:7])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


@dataclass(slots=True)
class Row:
    """A budget with its status this month."""

    budget: Budget
    status: service.Status

    @property
    def percent(self) -> Decimal | None:
        status = self.status
        if status.amount is None or status.projection is None:
            return None
        return status.projection.actual / status.amount * 100


@router.get("/budgets")
async def budgets(request: Request, done: str | None = None, name: str | None = None) -> Response:
    """The workspace's budgets with actual vs amount and the forecast probability for this month."""
    page = signed_in(request)
    principal = _admin(page)
    return await run_in_threadpool(_list, page, principal, notice=_notice(done, name))


def _notice(done: str | None, name: str | None) -> str | None:
    if done == "deleted" and name:
        return f"Budget “{name}” was deleted."
    return None


def _list(
    page: Page,
    principal: Principal,
    *,
    status: int = 200,
    notice: str | None = None,
    imported: csv_import.ImportResult | None = None,
    import_error: str | None = None,
    import_rows: list[dict[str, Any]] | None = None,
) -> Response:
    runtime = page.runtime
    rows = [
        Row(b, service.budget_status(runtime, b))
        for b in service.list_budgets(runtime, principal.workspace_id)
    ]
    providers = _providers(page, principal)
    return render(
        page,
        "budgets.html",
        status=status,
        rows=rows,
        period=service.current_period(),
        names=_scope_names(page, principal),
        providers=providers,
        notice=notice,
        imported=imported,
        import_error=import_error,
        import_rows=import_rows or [],
    )


def _form_values(budget: Budget | None, first: Provider | None = None) -> dict[str, Any]:
    """The form's fields: amounts of the 12 months from this one, plus any other month the budget has."""
    months = _months(service.current_period(), MONTHS_SHOWN)
    if budget is None:
        thresholds = DEFAULT_THRESHOLDS
        return {
            "name": "",
            "scope": f"provider:{first.id}" if first else "",
            "currency": first.default_currency if first else "",
            "costColumn": "BilledCost",
            "amounts": {m: "" for m in months},
            "actual": ", ".join(t["percent"] for t in thresholds if t["kind"] == "actual"),
            "forecast": ", ".join(t["probability"] for t in thresholds if t["kind"] == "forecast"),
        }
    amounts = {m: "" for m in months} | {p: format(a, "f") for p, a in budget.amounts.items()}
    return {
        "name": budget.name,
        "scope": f"{budget.scope_kind}:{budget.scope_id}",
        "currency": budget.currency,
        "costColumn": budget.cost_column,
        "amounts": dict(sorted(amounts.items())),
        "actual": ", ".join(t.as_json()["percent"] for t in budget.thresholds if t.kind == "actual"),
        "forecast": ", ".join(t.as_json()["probability"] for t in budget.thresholds if t.kind == "forecast"),
    }


def _render_form(
    page: Page,
    principal: Principal,
    values: dict[str, Any],
    *,
    budget: Budget | None = None,
    status: int = 200,
    error: InvalidBudget | None = None,
) -> Response:
    return render(
        page,
        "budget_form.html",
        status=status,
        budget=budget,
        values=values,
        providers=_providers(page, principal),
        views=_views(page, principal),
        cost_columns=COST_COLUMNS,
        error=str(error) if error else None,
        error_field=error.field if error else None,
    )


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def _body(form: Any, current: Budget | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The service's request body from the form, and the values to show the form again with."""
    amounts_shown = {
        key[len("amount-") :]: str(form.get(key) or "").strip() for key in form if key.startswith("amount-")
    }
    actual, forecast = str(form.get("actual") or ""), str(form.get("forecast") or "")
    values: dict[str, Any] = {
        "name": str(form.get("name") or ""),
        "scope": str(form.get("scope") or ""),
        "currency": str(form.get("currency") or "").strip().upper(),
        "costColumn": str(form.get("costColumn") or "BilledCost"),
        "amounts": dict(sorted(amounts_shown.items())),
        "actual": actual,
        "forecast": forecast,
    }
    kind, _, scope_id = values["scope"].partition(":")
    amounts: dict[str, str | None] = {m: a.replace(",", "") for m, a in amounts_shown.items() if a}
    if current is not None:  # an emptied month is removed, as `null` in the API
        amounts |= {m: None for m, a in amounts_shown.items() if not a and m in current.amounts}
    body = {
        "name": values["name"],
        "scope": {"kind": kind, "id": scope_id},
        "currency": values["currency"],
        "costColumn": values["costColumn"],
        "amounts": amounts,
        "thresholds": [{"kind": "actual", "percent": p} for p in _split(actual)]
        + [{"kind": "forecast", "probability": p} for p in _split(forecast)],
    }
    return body, values


@router.get("/budgets/new")
def new_budget(request: Request) -> Response:
    """The form of a new budget."""
    page = signed_in(request)
    principal = _admin(page)
    providers = _providers(page, principal)
    return _render_form(page, principal, _form_values(None, providers[0] if providers else None))


@router.post("/budgets/new")
async def create_budget(request: Request) -> Response:
    """Create a budget (as POST /api/v1/budgets); a refusal is shown on the form, naming the field."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = _admin(page)
    body, values = _body(form, None)
    try:
        budget = service.create_budget(page.runtime, principal.workspace_id, body)
    except InvalidBudget as exc:
        return _render_form(
            page, principal, values, status=409 if exc.code == "budget_exists" else 400, error=exc
        )
    return redirect(page, f"/budgets/{budget.id}?done=created")


def _visible(page: Page, principal: Principal, budget_id: str) -> Budget:
    budget = service.get_budget(page.runtime, principal.workspace_id, budget_id)
    if budget is None:
        raise WebError(404, "No such budget", f"no budget {budget_id} in this workspace")
    return budget


@router.get("/budgets/{budget_id}")
async def budget_page(
    request: Request, budget_id: str, period: str | None = None, done: str | None = None
) -> Response:
    """One budget: its month's actual, projection and thresholds (fired or not), and its amounts."""
    page = signed_in(request)
    principal = _admin(page)
    budget = _visible(page, principal, budget_id)
    try:
        status = await run_in_threadpool(service.budget_status, page.runtime, budget, period or None)
    except InvalidBudget as exc:
        raise WebError(400, "Invalid month", str(exc)) from exc
    names = _scope_names(page, principal)
    return render(
        page,
        "budget.html",
        b=budget,
        s=status,
        scope_name=names.get((budget.scope_kind, budget.scope_id), budget.scope_id),
        percent=Row(budget, status).percent,
        done=done,
        now=datetime.now(UTC).strftime("%Y-%m"),
    )


@router.get("/budgets/{budget_id}/edit")
def edit_budget(request: Request, budget_id: str) -> Response:
    """The form of an existing budget."""
    page = signed_in(request)
    principal = _admin(page)
    budget = _visible(page, principal, budget_id)
    return _render_form(page, principal, _form_values(budget), budget=budget)


@router.post("/budgets/{budget_id}/edit")
async def update_budget(request: Request, budget_id: str) -> Response:
    """Change a budget (as PATCH); an emptied month's amount is removed."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = _admin(page)
    budget = _visible(page, principal, budget_id)
    body, values = _body(form, budget)
    try:
        updated = service.update_budget(page.runtime, principal.workspace_id, budget_id, body)
    except InvalidBudget as exc:
        status = 409 if exc.code == "budget_exists" else 400
        return _render_form(page, principal, values, budget=budget, status=status, error=exc)
    if updated is None:
        raise WebError(404, "No such budget", f"no budget {budget_id} in this workspace")
    return redirect(page, f"/budgets/{budget_id}?done=saved")


@router.get("/budgets/{budget_id}/delete")
def delete_confirm(request: Request, budget_id: str) -> Response:
    """Ask before deleting a budget."""
    page = signed_in(request)
    principal = _admin(page)
    return render(page, "budget_delete.html", b=_visible(page, principal, budget_id))


@router.post("/budgets/{budget_id}/delete")
async def delete_budget(request: Request, budget_id: str) -> Response:
    """Delete a budget and the record of the thresholds it fired."""
    page = signed_in(request)
    form = await request.form()
    check_csrf(page, str(form.get("csrf_token") or ""))
    principal = _admin(page)
    budget = _visible(page, principal, budget_id)
    service.delete_budget(page.runtime, principal.workspace_id, budget_id)
    return redirect(page, "/budgets?done=deleted&name=" + quote(budget.name, safe=""))


@router.post("/budgets/import")
async def import_budgets(request: Request) -> Response:
    """Import budgets from a Vantage budget CSV (as POST /api/v1/budgets/import); all or nothing."""
    page = signed_in(request)
    async with request.form(
        max_files=1, max_fields=20, max_part_size=csv_import.MAX_CSV_BYTES + 1024
    ) as form:
        check_csrf(page, str(form.get("csrf_token") or ""))
        principal = _admin(page)
        upload = form.get("file")
        data = b""
        if isinstance(upload, UploadFile):
            data = await upload.read(csv_import.MAX_CSV_BYTES + 1)
    if not data:
        return await run_in_threadpool(
            _list, page, principal, status=400, import_error="File: choose a CSV file to import"
        )
    if len(data) > csv_import.MAX_CSV_BYTES:
        message = f"File: the CSV is larger than {csv_import.MAX_CSV_BYTES:,} bytes"
        return await run_in_threadpool(_list, page, principal, status=413, import_error=message)
    try:
        result = await run_in_threadpool(
            csv_import.import_budgets,
            page.runtime,
            principal.workspace_id,
            data,
            provider_id=str(form.get("provider") or "") or None,
            currency=str(form.get("currency") or "").strip().upper() or None,
            overwrite=form.get("overwrite") == "on",
        )
    except csv_import.BudgetImportError as exc:
        return await run_in_threadpool(
            _list, page, principal, status=422, import_error=str(exc), import_rows=exc.errors
        )
    return await run_in_threadpool(_list, page, principal, imported=result)
