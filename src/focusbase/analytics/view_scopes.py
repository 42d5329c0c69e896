"""Saved views as scopes of anomalies, forecasts and budgets.

A view's scope is its filters: its grouping, top-N, sort, date range and conversion currency shape how the
explorer shows it and are not part of what it measures. Series are per BillingCurrency like every other
scope, and sum the view's metric when it is a cost metric (EffectiveCost for a quantity view). Whoever
reads a view reads it with their own key's scope, as the explorer does.
"""

from __future__ import annotations

from datetime import date

from focusbase.analytics.model import ExplorerQuery, Filter
from focusbase.query.filters import Scope
from focusbase.storage import anomalies as store
from focusbase.storage.spend_series import SpendSeries

DEFAULT_METRIC = "EffectiveCost"


def series_metric(query: ExplorerQuery) -> str:
    """The cost metric a view's series sum: the view's own, or EffectiveCost for a quantity view."""
    return query.metric if query.metric in store.COST_METRICS else DEFAULT_METRIC


def _admits(f: Filter, provider_id: str) -> bool:
    if f.op == "equals":
        return provider_id == f.values[0]
    if f.op == "in":
        return provider_id in f.values
    if f.op == "not_in":
        return provider_id not in f.values
    if f.op == "contains":
        return f.values[0].lower() in provider_id.lower()
    return f.op == "present"  # every row has a provider


def may_include(query: ExplorerQuery, provider_id: str) -> bool:
    """Whether rows of this provider can match the view (False only when a provider filter rules it out)."""
    return all(_admits(f, provider_id) for f in query.filters if f.dimension.kind == "provider")


def view_cells(
    series: SpendSeries,
    scope: Scope,
    query: ExplorerQuery,
    since: date,
    until: date,
    *,
    metric: str | None = None,
    currency: str | None = None,
) -> list[store.DailyCell]:
    """Daily cells of a view's rows visible in `scope`, in [since, until] (the view's metric by default)."""
    return series.filtered_cells(scope, query.filters, metric or series_metric(query), since, until, currency)
