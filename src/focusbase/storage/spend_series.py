"""The daily spend series of anomaly detection, forecasts and budgets, on whichever warehouse holds the rows.

`SpendSeries` is what those services need: a provider's daily cost cells, the daily cells of a saved view's
filters in a key's scope, the providers holding data, and a provider's daily spend in one currency, all exact
decimals. `DuckDBSpendSeries` answers from the embedded warehouse (storage/anomalies.py, storage/budgets.py);
the ClickHouse warehouse answers the same reads (storage/clickhouse_series.py) with the same cells for the
same live rows.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol

from focusbase.analytics.model import Filter
from focusbase.query.filters import Scope
from focusbase.storage import anomalies, budgets
from focusbase.storage.anomalies import DailyCell
from focusbase.storage.warehouse import Warehouse


class SpendSeries(Protocol):
    """Daily spend of live Cost and Usage rows, per UTC charge day; sums are exact DECIMAL(38, 12)."""

    def daily_cells(self, workspace_id: str, provider_id: str, since: date, until: date) -> list[DailyCell]:
        """A provider's daily EffectiveCost in [since, until] by day, currency, ServiceName, SubAccountId and
        RegionId ('' for NULL), ordered by day; `expected` is the part billed as purchases, taxes or recurring
        charges."""
        ...

    def filtered_cells(
        self,
        scope: Scope,
        filters: tuple[Filter, ...],
        metric: str,
        since: date,
        until: date,
        currency: str | None = None,
        *,
        detail: bool = True,
    ) -> list[DailyCell]:
        """Daily `metric` (a cost column) of the rows in `scope` matching explorer `filters`, in
        [since, until], ordered by day: per provider and the dimensions of `daily_cells`, or with `detail`
        False per day and currency only (provider and dimensions ''); `currency` keeps one BillingCurrency."""
        ...

    def provider_ids_with_data(self, workspace_id: str) -> list[str]:
        """The workspace's providers with live Cost and Usage rows, sorted."""
        ...

    def daily_spend(
        self,
        *,
        workspace_id: str,
        provider_id: str,
        currency: str,
        cost_column: str,
        start: date,
        end: date,
    ) -> dict[date, Decimal]:
        """A provider's `cost_column` (BilledCost or EffectiveCost) per charge day in [start, end) in one
        BillingCurrency; days whose rows all lack the cost are left out."""
        ...


class DuckDBSpendSeries:
    """The embedded warehouse's series: storage/anomalies.py and storage/budgets.py over `live_cost_rows` and
    the daily rollup."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def daily_cells(self, workspace_id: str, provider_id: str, since: date, until: date) -> list[DailyCell]:
        return anomalies.daily_cells(self.warehouse, workspace_id, provider_id, since, until)

    def filtered_cells(
        self,
        scope: Scope,
        filters: tuple[Filter, ...],
        metric: str,
        since: date,
        until: date,
        currency: str | None = None,
        *,
        detail: bool = True,
    ) -> list[DailyCell]:
        return anomalies.filtered_cells(
            self.warehouse, scope, filters, metric, since, until, currency, detail=detail
        )

    def provider_ids_with_data(self, workspace_id: str) -> list[str]:
        return anomalies.provider_ids_with_data(self.warehouse, workspace_id)

    def daily_spend(
        self,
        *,
        workspace_id: str,
        provider_id: str,
        currency: str,
        cost_column: str,
        start: date,
        end: date,
    ) -> dict[date, Decimal]:
        return budgets.daily_spend(
            self.warehouse,
            workspace_id=workspace_id,
            provider_id=provider_id,
            currency=currency,
            cost_column=cost_column,
            start=start,
            end=end,
        )
