"""Cost totals per provider and currency, for the web app's Cost page (never summed across currencies)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from focusbase.query.filters import Scope
from focusbase.storage import Catalog
from focusbase.storage.insight_reads import InsightReads
from focusbase.tenancy.providers import list_providers


@dataclass(frozen=True, slots=True)
class ProviderTotal:
    """A provider's live spend in one currency (sums are exact decimal text)."""

    provider_id: str
    provider_name: str
    currency: str
    rows: int
    billed_cost: str
    effective_cost: str
    first_charge: datetime | None
    last_charge: datetime | None


def cost_totals(catalog: Catalog, reads: InsightReads, scope: Scope) -> list[ProviderTotal]:
    """Live BilledCost and EffectiveCost per provider and currency that the scope can see."""
    names = {p.id: p.name for p in list_providers(catalog, scope.workspace_id, scope.provider_ids)}
    rows = reads.cost_totals(scope)
    found = [
        ProviderTotal(
            provider_id=row.provider_id,
            provider_name=names.get(row.provider_id, row.provider_id),
            currency=row.currency,
            rows=row.rows,
            billed_cost=row.billed_cost,
            effective_cost=row.effective_cost,
            first_charge=row.first_charge,
            last_charge=row.last_charge,
        )
        for row in rows
        if row.provider_id in names  # a deleted provider's rows are gone or going
    ]
    return sorted(found, key=lambda t: (t.provider_name.casefold(), t.provider_id, t.currency))


def totals_per_currency(totals: list[ProviderTotal]) -> dict[str, str]:
    """EffectiveCost summed over providers, per currency (exact decimal text; currencies never mixed)."""
    sums: dict[str, Decimal] = {}
    for row in totals:
        sums[row.currency] = sums.get(row.currency, Decimal(0)) + Decimal(row.effective_cost)
    return {currency: format(total, "f") for currency, total in sorted(sums.items())}
