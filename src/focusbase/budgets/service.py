"""Budgets of a workspace: create, read, update, delete, and the status of a month."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from focusbase.analytics.views import ViewError, get_view
from focusbase.budgets import forecast
from focusbase.budgets.model import (
    DEFAULT_THRESHOLDS,
    SCOPE_KINDS,
    Budget,
    InvalidBudget,
    Threshold,
    parse_amounts,
    parse_cost_column,
    parse_currency,
    parse_name,
    parse_period,
    parse_thresholds,
)
from focusbase.query.filters import Scope
from focusbase.runtime import Runtime
from focusbase.storage import budgets as store
from focusbase.storage import views as view_store
from focusbase.storage.anomalies import DailyCell
from focusbase.storage.catalog import utcnow


def check_scope(runtime: Runtime, workspace_id: str, scope: Any) -> tuple[str, str]:
    """{"kind": "provider", "id": "prv_..."}: a live provider of the workspace, or {"kind": "view",
    "id": "view_..."}: one of its saved views."""
    if not isinstance(scope, dict) or set(scope) != {"kind", "id"}:
        raise InvalidBudget(
            'scope must be {"kind": "provider", "id": "prv_..."} or {"kind": "view", "id": "view_..."}',
            field="scope",
        )
    kind, scope_id = scope["kind"], scope["id"]
    if kind not in SCOPE_KINDS:
        raise InvalidBudget("scope.kind must be provider or view", field="scope.kind")
    if kind == "view":
        if (
            not isinstance(scope_id, str)
            or view_store.get_view(runtime.catalog, workspace_id, scope_id) is None
        ):
            raise InvalidBudget(f"scope.id: no view {str(scope_id)[:64]} in this workspace", field="scope.id")
        return kind, scope_id
    if not isinstance(scope_id, str) or not store.live_provider(runtime.catalog, workspace_id, scope_id):
        raise InvalidBudget(f"scope.id: no provider {str(scope_id)[:64]} in this workspace", field="scope.id")
    return kind, scope_id


def _view_gone(exc: store.ViewGone) -> InvalidBudget:
    return InvalidBudget(f"scope.id: no view {str(exc)[:64]} in this workspace", field="scope.id")


def _load(runtime: Runtime, row: Any) -> Budget:
    return Budget.from_row(row, store.amounts(runtime.catalog, row["id"]))


def get_budget(runtime: Runtime, workspace_id: str, budget_id: str) -> Budget | None:
    """One budget of the workspace."""
    row = store.get_budget(runtime.catalog, workspace_id, budget_id)
    return None if row is None else _load(runtime, row)


def list_budgets(runtime: Runtime, workspace_id: str) -> list[Budget]:
    """The workspace's budgets, by name."""
    return [_load(runtime, row) for row in store.list_budgets(runtime.catalog, workspace_id)]


def _name_free(runtime: Runtime, workspace_id: str, name: str, budget_id: str | None = None) -> None:
    other = store.budget_by_name(runtime.catalog, workspace_id, name)
    if other is not None and other["id"] != budget_id:
        raise InvalidBudget(f"a budget named {name!r} exists already", field="name", code="budget_exists")


def create_budget(runtime: Runtime, workspace_id: str, body: dict[str, Any]) -> Budget:
    """A new budget from {name, scope, currency, costColumn?, amounts, thresholds?}."""
    name = parse_name(body.get("name"))
    kind, scope_id = check_scope(runtime, workspace_id, body.get("scope"))
    currency = parse_currency(body.get("currency"))
    cost_column = parse_cost_column(body.get("costColumn") or "BilledCost")
    amounts = parse_amounts(body.get("amounts", {}))
    raw_thresholds = body.get("thresholds")
    thresholds = parse_thresholds(DEFAULT_THRESHOLDS if raw_thresholds is None else raw_thresholds)
    _name_free(runtime, workspace_id, name)
    now = utcnow()
    budget_id = "bud_" + secrets.token_hex(8)
    row = {
        "id": budget_id,
        "workspace_id": workspace_id,
        "name": name,
        "scope_kind": kind,
        "scope_id": scope_id,
        "currency": currency,
        "cost_column": cost_column,
        "thresholds": json.dumps([t.as_json() for t in thresholds]),
        "created_at": now,
        "updated_at": now,
    }
    try:
        store.save_budget(
            runtime.catalog, row, {p: format(a, "f") for p, a in amounts.items()}, replace_amounts=False
        )
    except store.ViewGone as exc:
        raise _view_gone(exc) from exc
    budget = get_budget(runtime, workspace_id, budget_id)
    assert budget is not None
    return budget


def update_budget(runtime: Runtime, workspace_id: str, budget_id: str, body: dict[str, Any]) -> Budget | None:
    """Change fields; `amounts` given here are merged month by month (a month set to null is removed)."""
    current = get_budget(runtime, workspace_id, budget_id)
    if current is None:
        return None
    row: dict[str, Any] = {}
    if body.get("name") is not None:
        row["name"] = parse_name(body["name"])
        _name_free(runtime, workspace_id, row["name"], budget_id)
    if body.get("scope") is not None:
        row["scope_kind"], row["scope_id"] = check_scope(runtime, workspace_id, body["scope"])
    if body.get("currency") is not None:
        row["currency"] = parse_currency(body["currency"])
    if body.get("costColumn") is not None:
        row["cost_column"] = parse_cost_column(body["costColumn"])
    if body.get("thresholds") is not None:
        row["thresholds"] = json.dumps([t.as_json() for t in parse_thresholds(body["thresholds"])])
    merged = {p: format(a, "f") for p, a in current.amounts.items()}
    if body.get("amounts") is not None:
        raw = body["amounts"]
        if not isinstance(raw, dict):
            raise InvalidBudget("amounts must be an object of months to amounts", field="amounts")
        removed = {parse_period(p, f"amounts.{p}") for p, a in raw.items() if a is None}
        added = parse_amounts({p: a for p, a in raw.items() if a is not None})
        merged = {p: a for p, a in merged.items() if p not in removed} | {
            p: format(a, "f") for p, a in added.items()
        }
    if not row:
        row["name"] = current.name  # touch updated_at
    try:
        store.save_budget(runtime.catalog, row, merged, replace_amounts=True, existing_id=budget_id)
    except store.ViewGone as exc:
        raise _view_gone(exc) from exc
    return get_budget(runtime, workspace_id, budget_id)


def delete_budget(runtime: Runtime, workspace_id: str, budget_id: str) -> bool:
    """Delete a budget, its amounts and the record of its crossings."""
    return store.delete_budget(runtime.catalog, workspace_id, budget_id)


def current_period(now: datetime | None = None) -> str:
    """This UTC month as YYYY-MM."""
    return (now or datetime.now(UTC)).strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class ThresholdStatus:
    """A threshold for one month: whether it is crossed now and when it fired (if it did)."""

    threshold: Threshold
    crossed: bool
    fired_at: str | None
    event_id: str | None


@dataclass(frozen=True, slots=True)
class Status:
    """A budget's month: amount, actual to date, projection and thresholds."""

    budget: Budget
    period: str
    amount: Decimal | None
    projection: forecast.Projection | None
    thresholds: list[ThresholdStatus]


def scope_cells(runtime: Runtime, budget: Budget, since: date, until: date) -> list[DailyCell] | None:
    """The budget's daily spend in its currency and cost column, [since, until]; None when its view is gone.

    A budget is a whole-workspace object (keys limited to some providers cannot manage budgets), so a view
    is measured over every provider of the workspace; its filters apply, its metric does not (the budget's
    cost column does).
    """
    if budget.scope_kind == "view":
        try:
            view = get_view(runtime.catalog, runtime.settings, budget.workspace_id, budget.scope_id)
        except ViewError:
            return None
        filters = view.query.filters
        scope = Scope(budget.workspace_id)
    else:
        filters, scope = (), Scope(budget.workspace_id, frozenset({budget.scope_id}))
    return runtime.series.filtered_cells(
        scope, filters, budget.cost_column, since, until, budget.currency, detail=False
    )


def measure(
    runtime: Runtime, budget: Budget, period: str, today: date, *, with_forecast: bool = True
) -> forecast.Projection | None:
    """Actual and projected spend of a month with an amount (None without one); without `with_forecast`
    the projection is the quick run-rate one."""
    amount = budget.amounts.get(period)
    if amount is None:
        return None
    start, end = forecast.month_bounds(period)
    history = runtime.settings.forecast_history_days
    cells = scope_cells(runtime, budget, start - timedelta(days=history), end - timedelta(days=1))
    if cells is None:
        return None
    daily = {c.day: c.cost for c in cells}
    if not with_forecast:
        return forecast.run_rate(daily, period, amount, today)
    expected = {c.day: c.expected for c in cells}
    return forecast.projection(daily, expected, period, amount, today, history_days=history)


def is_crossed(
    threshold: Threshold, amount: Decimal, projection: forecast.Projection, open_month: bool
) -> bool:
    """Crossed: actual >= percent of the amount, or (open months only) P(above) >= probability."""
    if threshold.kind == "actual":
        return projection.actual >= amount * threshold.value / 100
    return open_month and Decimal(str(projection.probability_above)) >= threshold.value


def budget_status(runtime: Runtime, budget: Budget, period: str | None = None) -> Status:
    """The status of a month (this month by default)."""
    chosen = parse_period(period, "period") if period is not None else current_period()
    today = datetime.now(UTC).date()
    amount = budget.amounts.get(chosen)
    projection = measure(runtime, budget, chosen, today)
    fired = store.crossings(runtime.catalog, budget.id, chosen)
    open_month = today < forecast.month_bounds(chosen)[1]
    rows = []
    for threshold in budget.thresholds:
        record = fired.get(threshold.key)
        crossed = bool(amount and projection and is_crossed(threshold, amount, projection, open_month))
        rows.append(
            ThresholdStatus(
                threshold,
                crossed,
                record["crossed_at"] if record is not None else None,
                record["event_id"] if record is not None else None,
            )
        )
    return Status(budget, chosen, amount, projection, rows)
