"""The savings, dashboard, cost-totals and live row-count reads, on whichever warehouse holds the rows.

`InsightReads` is what the savings service (analytics/savings.py), the dashboard (analytics/dashboard.py,
with the explorer's aggregates through `ExplorerReads`), the Cost page's totals (query/totals.py) and the
providers' live row counts need, in domain values: exact sums as DuckDB's DECIMAL(38, 12) text, counts as int.
`DuckDBInsightReads` runs the embedded warehouse's SQL unchanged; the ClickHouse warehouse answers the same
operations (storage/clickhouse_insights.py) with the same values for the same live rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from focusbase.query.filters import Scope
from focusbase.storage import analytics as timing
from focusbase.storage import providers as provider_store
from focusbase.storage import savings as savings_store
from focusbase.storage import totals as totals_store
from focusbase.storage.savings import CommitmentSums, CurrencySums
from focusbase.storage.totals import TotalRow
from focusbase.storage.warehouse import Warehouse


@dataclass(frozen=True, slots=True)
class SavingsSums:
    """The sums savings are computed from: per currency, per commitment (and currency) up to a limit, and
    the FOCUS 1.3 Contract Commitments those commitments name, summed per ContractCommitmentId."""

    currencies: list[CurrencySums]
    commitments: list[CommitmentSums]
    contracts: dict[str, dict[str, Any]]


class InsightReads(Protocol):
    """Savings sums, per-provider days, cost totals and row counts over a scope's live rows."""

    def savings_sums(
        self,
        scope: Scope,
        start: date | None,
        end: date | None,
        *,
        commitment_limit: int,
        timeout_seconds: float,
    ) -> SavingsSums:
        """The savings sums over the charge days [start, end); at most `commitment_limit` commitments.

        Raises QueryTimeout past `timeout_seconds`, ValueOutOfRange when a sum does not fit DECIMAL(38, 12).
        """
        ...

    def provider_days(self, scope: Scope, *, timeout_seconds: float) -> dict[str, tuple[date, date, int]]:
        """Per provider in scope: first and last charge day with live rows, and the days with rows."""
        ...

    def cost_totals(self, scope: Scope) -> list[TotalRow]:
        """Live rows, BilledCost and EffectiveCost and the charge periods, per provider and currency."""
        ...

    def live_row_counts(self, workspace_id: str, provider_id: str | None = None) -> dict[str, int]:
        """Live Cost and Usage rows per provider of a workspace (or only of `provider_id`)."""
        ...


class DuckDBInsightReads:
    """The embedded warehouse's answers: the savings sums in one snapshot with one deadline."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def savings_sums(
        self,
        scope: Scope,
        start: date | None,
        end: date | None,
        *,
        commitment_limit: int,
        timeout_seconds: float,
    ) -> SavingsSums:
        with self.warehouse.cursor() as cur, timing.snapshot(cur, timeout_seconds):
            currencies = savings_store.currency_sums(cur, scope, start, end)
            commitments = savings_store.commitment_sums(cur, scope, start, end, commitment_limit)
            contracts = savings_store.contract_commitments(
                cur, scope, sorted({c.commitment_id for c in commitments})
            )
        return SavingsSums(currencies, commitments, contracts)

    def provider_days(self, scope: Scope, *, timeout_seconds: float) -> dict[str, tuple[date, date, int]]:
        with self.warehouse.cursor() as cur, timing.deadline(cur, timeout_seconds):
            return timing.provider_days(cur, scope)

    def cost_totals(self, scope: Scope) -> list[TotalRow]:
        with self.warehouse.cursor() as cur:
            return totals_store.totals_by_provider(cur, scope)

    def live_row_counts(self, workspace_id: str, provider_id: str | None = None) -> dict[str, int]:
        return provider_store.live_cost_row_counts(self.warehouse, workspace_id, provider_id)
