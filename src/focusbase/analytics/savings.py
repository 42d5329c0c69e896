"""Commitment savings per BillingCurrency and per commitment, with the FinOps hubs / FOCUS formulas.

Formulas (docs/analytics.md cites each source):
- list L = Σ coalesce(ListCost, ContractedCost, EffectiveCost), contracted C = Σ coalesce(ContractedCost,
  EffectiveCost), effective E = Σ EffectiveCost, over rows that are not commitment purchases;
- negotiated savings = L − C, commitment savings = C − E, total savings = L − E, ESR = (L − E) / L;
- utilisation = Σ used / Σ (used + unused) (CommitmentDiscountQuantity for usage-based commitments,
  EffectiveCost otherwise), unused commitment cost = Σ EffectiveCost where CommitmentDiscountStatus = Unused;
- coverage = covered / (covered + eligible on-demand) EffectiveCost.
Sums are exact DECIMAL; ratios are Decimal quotients rounded to 6 places, null when the divisor is 0.
"""

from __future__ import annotations

import decimal
from datetime import date
from decimal import Decimal
from typing import Any

from focusbase.analytics.explorer import ExplorerError
from focusbase.analytics.model import QueryError
from focusbase.analytics.results import exact, plain
from focusbase.config import Settings
from focusbase.query.filters import Scope
from focusbase.storage import analytics as timing
from focusbase.storage import savings as store
from focusbase.storage.insight_reads import InsightReads

_EXACT = decimal.Context(prec=80)
_PLACES = Decimal("0.000001")


def _d(value: str | None) -> Decimal:
    return Decimal(exact(value))


def ratio(numerator: Decimal, denominator: Decimal) -> str | None:
    """numerator / denominator rounded half-even to 6 places, or None when the denominator is 0."""
    if denominator == 0:
        return None
    return str(_EXACT.divide(numerator, denominator).quantize(_PLACES))


def _sub(a: Decimal, b: Decimal) -> str:
    return plain(_EXACT.subtract(a, b))


def _utilization(used: Decimal, unused: Decimal) -> str | None:
    return ratio(used, _EXACT.add(used, unused))


def _currency(s: store.CurrencySums, used: Decimal, unused: Decimal) -> dict[str, Any]:
    lc, cc, ec = _d(s.list_cost), _d(s.contracted_cost), _d(s.effective_cost)
    covered, on_demand = _d(s.covered_cost), _d(s.on_demand_cost)
    rows = Decimal(s.rows)
    return {
        "currency": s.currency,
        "rows": s.rows,
        "listCost": plain(lc),
        "contractedCost": plain(cc),
        "effectiveCost": plain(ec),
        "billedCost": exact(s.billed_cost),
        "negotiatedSavings": _sub(lc, cc),
        "commitmentSavings": _sub(cc, ec),
        "totalSavings": _sub(lc, ec),
        "effectiveSavingsRate": ratio(_EXACT.subtract(lc, ec), lc),
        "coveredCost": plain(covered),
        "onDemandCost": plain(on_demand),
        "coverage": ratio(covered, _EXACT.add(covered, on_demand)),
        "utilization": _utilization(used, unused),
        "unusedCommitmentCost": exact(s.unused_cost),
        "commitmentPurchaseCost": exact(s.purchase_cost),
        "missingPrices": {
            "rowsWithoutListCost": s.rows_missing_list,
            "rowsWithoutContractedCost": s.rows_missing_contracted,
            "shareOfRowsWithoutListCost": ratio(Decimal(s.rows_missing_list), rows),
            "shareOfRowsWithoutContractedCost": ratio(Decimal(s.rows_missing_contracted), rows),
            "effectiveCostWithoutListCost": exact(s.cost_missing_list),
            "effectiveCostWithoutContractedCost": exact(s.cost_missing_contracted),
        },
    }


def _commitment(c: store.CommitmentSums, contract: dict[str, Any] | None) -> dict[str, Any]:
    used, unused = _d(c.used_cost), _d(c.unused_cost)
    cost_util = _utilization(used, unused)
    quantity_util = (
        _utilization(_d(c.used_quantity), _d(c.unused_quantity))
        if c.used_quantity is not None or c.unused_quantity is not None
        else None
    )
    lc, cc, ec = _d(c.list_cost), _d(c.contracted_cost), _d(c.effective_cost)
    return {
        "commitmentDiscountId": c.commitment_id,
        "currency": c.currency,
        "name": c.name,
        "category": c.category,
        "type": c.type,
        "unit": c.unit,
        "rows": c.rows,
        "usedCost": plain(used),
        "unusedCost": plain(unused),
        "usedQuantity": c.used_quantity and exact(c.used_quantity),
        "unusedQuantity": c.unused_quantity and exact(c.unused_quantity),
        "utilization": quantity_util if c.category == "Usage" and quantity_util is not None else cost_util,
        "costUtilization": cost_util,
        "quantityUtilization": quantity_util,
        "listCost": plain(lc),
        "contractedCost": plain(cc),
        "effectiveCost": plain(ec),
        "savingsVsList": _sub(lc, ec),
        "savingsVsContracted": _sub(cc, ec),
        "purchaseCost": exact(c.purchase_cost),
        "contractCommitment": contract,
    }


def build_savings(
    reads: InsightReads,
    settings: Settings,
    scope: Scope,
    *,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    """Savings per currency and per commitment over the charge days [start, end) of a key's scope."""
    if start is not None and end is not None and end < start:
        # end == start is an empty range, answered with an empty result.
        raise QueryError("end", "must not be before start (the range is [start, end))")
    limit = settings.explorer_max_groups
    try:
        sums = reads.savings_sums(
            scope, start, end, commitment_limit=limit + 1, timeout_seconds=settings.explorer_timeout_seconds
        )
    except timing.QueryTimeout as exc:
        raise ExplorerError(503, "query_timeout", str(exc)) from exc
    except timing.ValueOutOfRange as exc:
        raise ExplorerError(422, "value_out_of_range", str(exc)) from exc
    currencies, commitments, contracts = sums.currencies, sums.commitments, sums.contracts
    truncated = len(commitments) > limit
    commitments = commitments[:limit]
    used: dict[str, Decimal] = {}
    unused: dict[str, Decimal] = {}
    for c in commitments:
        used[c.currency] = _EXACT.add(used.get(c.currency, Decimal(0)), _d(c.used_cost))
        unused[c.currency] = _EXACT.add(unused.get(c.currency, Decimal(0)), _d(c.unused_cost))
    return {
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "totals": [
            _currency(s, used.get(s.currency, Decimal(0)), unused.get(s.currency, Decimal(0)))
            for s in currencies
        ],
        "commitments": [_commitment(c, contracts.get(c.commitment_id)) for c in commitments],
        "commitmentsTruncated": truncated,
    }
