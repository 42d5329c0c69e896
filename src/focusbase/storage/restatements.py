"""SQL: which billing periods a committed batch replaced rows of (warehouse)."""

from __future__ import annotations

from typing import Any

from focusbase.storage.warehouse import Warehouse


def replaced_periods(warehouse: Warehouse, batch_id: str) -> list[dict[str, Any]]:
    """Per billing month (YYYY-MM of BillingPeriodStart) and currency: the rows and cost a batch replaced."""
    with warehouse.cursor() as cur:
        rows = cur.execute(
            "SELECT strftime(BillingPeriodStart, '%Y-%m') AS period, provider_id, BillingCurrency,"
            " count(*), CAST(sum(BilledCost) AS VARCHAR)"
            " FROM cost_rows WHERE superseded_by = ? GROUP BY 1, 2, 3 ORDER BY 1, 3",
            [batch_id],
        ).fetchall()
    return [
        {"period": p, "providerId": prv, "currency": cur_, "rows": int(n), "billedCost": total}
        for p, prv, cur_, n, total in rows
    ]
