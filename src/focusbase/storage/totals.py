"""SQL for cost totals: live Cost and Usage sums per provider and currency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from focusbase.query.filters import Scope
from focusbase.storage.cost_rows import exact
from focusbase.storage.query import scope_where


@dataclass(frozen=True, slots=True)
class TotalRow:
    """One provider's live rows in one currency: count, exact sums and the charge periods they cover."""

    provider_id: str
    currency: str
    rows: int
    billed_cost: str
    effective_cost: str
    first_charge: datetime | None
    last_charge: datetime | None


def totals_by_provider(cur: duckdb.DuckDBPyConnection, scope: Scope) -> list[TotalRow]:
    """Sums of BilledCost and EffectiveCost over the live rows a scope can see, per provider and currency."""
    where_sql, params = scope_where(scope)
    rows = cur.execute(
        "SELECT provider_id, coalesce(\"BillingCurrency\", ''), count(*), "  # noqa: S608 - scope_where only
        'CAST(sum("BilledCost") AS VARCHAR), CAST(sum("EffectiveCost") AS VARCHAR), '
        'min("ChargePeriodStart"), max("ChargePeriodStart") '
        f"FROM live_cost_rows WHERE {where_sql} GROUP BY 1, 2 ORDER BY 1, 2",
        params,
    ).fetchall()
    return [
        TotalRow(
            provider_id=str(provider_id),
            currency=str(currency),
            rows=int(count),
            billed_cost=exact(billed),
            effective_cost=exact(effective),
            first_charge=first,
            last_charge=last,
        )
        for provider_id, currency, count, billed, effective, first, last in rows
    ]
