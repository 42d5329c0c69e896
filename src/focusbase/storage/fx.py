"""SQL for a workspace's currency conversion rates (warehouse table fx_rates, joined by the explorer)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa

from focusbase.storage.warehouse import Warehouse


def replace_rates(
    warehouse: Warehouse, workspace_id: str, rates: list[tuple[date, str, str, Decimal]]
) -> int:
    """Replace every rate of a workspace with these (day, from, to, rate) rows, atomically."""
    table = pa.table(
        {
            "day": pa.array([r[0] for r in rates], pa.date32()),
            "from_currency": pa.array([r[1] for r in rates], pa.string()),
            "to_currency": pa.array([r[2] for r in rates], pa.string()),
            "rate": pa.array([r[3] for r in rates], pa.decimal128(38, 10)),
        }
    )
    with warehouse.transaction() as cur:
        cur.execute("DELETE FROM fx_rates WHERE workspace_id = ?", [workspace_id])
        cur.register("__rates", table)
        try:
            cur.execute(
                "INSERT INTO fx_rates SELECT ?, day, from_currency, to_currency, rate FROM __rates",
                [workspace_id],
            )
        finally:
            cur.unregister("__rates")
    return len(rates)


def list_rates(
    warehouse: Warehouse, workspace_id: str, limit: int
) -> tuple[int, list[tuple[date, str, str, str]], list[tuple[str, str, date, date, int]]]:
    """The workspace's rate count, its first `limit` rates and, per currency pair, first and last day."""
    with warehouse.cursor() as cur:
        cur.execute("BEGIN TRANSACTION")
        try:
            found = cur.execute(
                "SELECT count(*) FROM fx_rates WHERE workspace_id = ?", [workspace_id]
            ).fetchone()
            rows = cur.execute(
                "SELECT day, from_currency, to_currency, CAST(rate AS VARCHAR) FROM fx_rates"
                " WHERE workspace_id = ? ORDER BY day, from_currency, to_currency LIMIT ?",
                [workspace_id, limit],
            ).fetchall()
            pairs = cur.execute(
                "SELECT from_currency, to_currency, min(day), max(day), count(*) FROM fx_rates"
                " WHERE workspace_id = ? GROUP BY ALL ORDER BY 1, 2",
                [workspace_id],
            ).fetchall()
        finally:
            cur.execute("ROLLBACK")
    return int(found[0]) if found else 0, rows, pairs
