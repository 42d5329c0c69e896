"""Budget evaluation: each threshold crossed fires budget.threshold_crossed once per (budget, month).

Runs right after each batch commit for the budgets that can include the committed provider (its own, and
those on saved views whose filters admit it), in the background, and for every budget each
Settings.budget_sweep_seconds. It looks at the current UTC month and the one before (late data
still lands there); a forecast threshold only applies while its month is open.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from focusbase.budgets import forecast
from focusbase.budgets.model import Budget
from focusbase.budgets.service import is_crossed, measure
from focusbase.notify import events
from focusbase.runtime import Runtime
from focusbase.storage import budgets as store

log = logging.getLogger(__name__)


KINDS = ("actual", "forecast")


def evaluate_budgets(runtime: Runtime, budgets: list[Budget], now: datetime | None = None) -> list[str]:
    """Evaluate budgets in two passes: every actual threshold first (cheap: sums only), then the forecast
    thresholds, whose forecasts take seconds per series, so a slow forecast never delays an actual one."""
    fired: list[str] = []
    for kinds in (("actual",), ("forecast",)):
        for budget in budgets:
            try:
                fired += evaluate_budget(runtime, budget, now, kinds=kinds)
            except Exception:  # one budget's failure must not stop the others; the next pass retries
                log.exception("evaluation of budget %s failed", budget.id)
    return fired


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def periods_to_check(now: datetime) -> list[str]:
    """The previous and the current UTC month."""
    previous = (now.year - (now.month == 1), (now.month - 2) % 12 + 1)
    return [f"{previous[0]}-{previous[1]:02d}", f"{now.year}-{now.month:02d}"]


def evaluate_budget(
    runtime: Runtime, budget: Budget, now: datetime | None = None, *, kinds: tuple[str, ...] = KINDS
) -> list[str]:
    """Check a budget's thresholds of these kinds for the months in play; returns the ids of the events it
    fired. The forecast is fitted only when a forecast threshold is checked (actual ones need none)."""
    moment = now or datetime.now(UTC)
    today = moment.date()
    thresholds = [t for t in budget.thresholds if t.kind in kinds]
    with_forecast = any(t.kind == "forecast" for t in thresholds)
    fired: list[str] = []
    for period in periods_to_check(moment) if thresholds else []:
        amount = budget.amounts.get(period)
        if amount is None:
            continue
        projection = measure(runtime, budget, period, today, with_forecast=with_forecast)
        if projection is None:
            continue
        open_month = today < forecast.month_bounds(period)[1]
        for threshold in thresholds:
            if not is_crossed(threshold, amount, projection, open_month):
                continue
            data: dict[str, Any] = {
                "budgetId": budget.id,
                "budgetName": budget.name,
                "scope": {"kind": budget.scope_kind, "id": budget.scope_id},
                "period": period,
                "currency": budget.currency,
                "costColumn": budget.cost_column,
                "amount": format(amount, "f"),
                "threshold": threshold.as_json(),
                "actual": str(projection.actual),
                "projected": str(projection.projected),
                "probabilityAboveBudget": round(projection.probability_above, 4),
                "forecastMethod": projection.method,
                "forecastModel": projection.model,
                "projectedLower": _text(projection.lower),
                "projectedUpper": _text(projection.upper),
            }
            event_id = store.record_crossing(
                runtime.catalog,
                budget_id=budget.id,
                period=period,
                threshold=threshold.key,
                actual=data["actual"],
                projected=data["projected"],
                emit=lambda tx, data=data: events.enqueue(  # type: ignore[misc]
                    tx, budget.workspace_id, "budget.threshold_crossed", data
                ),
            )
            if event_id is not None:
                fired.append(event_id)
    if fired:
        events.wake(runtime)
    return fired
