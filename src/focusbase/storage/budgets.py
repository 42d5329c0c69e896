"""SQL for budgets (catalog) and the daily spend series they are measured on (warehouse)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from focusbase.storage.catalog import Catalog, Connection, Row, utcnow
from focusbase.storage.warehouse import Warehouse

# The two money columns a budget can be measured on; names come from this fixed map, never from input.
COST_COLUMNS = {"BilledCost": "BilledCost", "EffectiveCost": "EffectiveCost"}


class ViewGone(Exception):
    """The saved view a budget is to measure does not exist (any more) in its workspace."""


def save_budget(
    catalog: Catalog,
    row: dict[str, Any],
    amounts: dict[str, str],
    *,
    replace_amounts: bool,
    existing_id: str | None = None,
) -> None:
    """Insert (or, with existing_id, update) a budget and set its amounts, in one transaction."""
    with catalog.transaction() as tx:
        _save(tx, row, amounts, replace_amounts=replace_amounts, existing_id=existing_id)


def save_many(catalog: Catalog, items: list[tuple[dict[str, Any], dict[str, str], str | None]]) -> None:
    """Several budgets at once (a CSV import): all are stored or none."""
    with catalog.transaction() as tx:
        for row, amounts, existing_id in items:
            _save(tx, row, amounts, replace_amounts=False, existing_id=existing_id)


def _save(
    tx: Connection,
    row: dict[str, Any],
    amounts: dict[str, str],
    *,
    replace_amounts: bool,
    existing_id: str | None,
) -> None:
    if row.get("scope_kind") == "view":
        # In the writing transaction, so a view deleted meanwhile (views refuse deletion while budgets
        # measure them) cannot leave the budget on nothing.
        workspace = (
            row.get("workspace_id")
            or tx.execute("SELECT workspace_id FROM budgets WHERE id = ?", (existing_id,)).fetchone()[0]
        )
        found = tx.execute(
            "SELECT 1 FROM saved_views WHERE id = ? AND workspace_id = ?", (row["scope_id"], workspace)
        ).fetchone()
        if found is None:
            raise ViewGone(row["scope_id"])
    if existing_id is None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        tx.execute(f"INSERT INTO budgets ({columns}) VALUES ({marks})", list(row.values()))  # noqa: S608
        budget_id = row["id"]
    else:
        changes = {k: v for k, v in row.items() if k in _UPDATABLE}
        sets = ", ".join(f"{name} = ?" for name in changes)
        tx.execute(
            f"UPDATE budgets SET {sets}, updated_at = ? WHERE id = ?",  # noqa: S608
            [*changes.values(), utcnow(), existing_id],
        )
        budget_id = existing_id
    if replace_amounts:
        tx.execute("DELETE FROM budget_amounts WHERE budget_id = ?", (budget_id,))
    for period, amount in amounts.items():
        tx.execute(
            "INSERT INTO budget_amounts (budget_id, period, amount) VALUES (?, ?, ?)"
            " ON CONFLICT (budget_id, period) DO UPDATE SET amount = excluded.amount",
            (budget_id, period, amount),
        )


_UPDATABLE = ("name", "scope_kind", "scope_id", "currency", "cost_column", "thresholds")


def get_budget(catalog: Catalog, workspace_id: str, budget_id: str) -> Row | None:
    """One budget of a workspace."""
    with catalog.read() as conn:
        row: Row | None = conn.execute(
            "SELECT * FROM budgets WHERE id = ? AND workspace_id = ?", (budget_id, workspace_id)
        ).fetchone()
        return row


def budget_by_name(catalog: Catalog, workspace_id: str, name: str) -> Row | None:
    """A workspace's budget of this name."""
    with catalog.read() as conn:
        row: Row | None = conn.execute(
            "SELECT * FROM budgets WHERE workspace_id = ? AND name = ?", (workspace_id, name)
        ).fetchone()
        return row


def list_budgets(catalog: Catalog, workspace_id: str | None = None) -> list[Row]:
    """A workspace's budgets (every workspace's with None), by name."""
    with catalog.read() as conn:
        if workspace_id is None:
            return conn.execute("SELECT * FROM budgets ORDER BY workspace_id, name").fetchall()
        return conn.execute(
            "SELECT * FROM budgets WHERE workspace_id = ? ORDER BY name", (workspace_id,)
        ).fetchall()


def budgets_for_scope(catalog: Catalog, workspace_id: str, kind: str, scope_id: str) -> list[Row]:
    """The budgets on one scope."""
    with catalog.read() as conn:
        return conn.execute(
            "SELECT * FROM budgets WHERE workspace_id = ? AND scope_kind = ? AND scope_id = ?",
            (workspace_id, kind, scope_id),
        ).fetchall()


def amounts(catalog: Catalog, budget_id: str) -> dict[str, str]:
    """A budget's monthly amounts, by period."""
    with catalog.read() as conn:
        rows = conn.execute(
            "SELECT period, amount FROM budget_amounts WHERE budget_id = ? ORDER BY period", (budget_id,)
        ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}


def view_budget_ids(catalog: Catalog, workspace_id: str) -> list[str]:
    """The ids of a workspace's budgets that measure a saved view."""
    with catalog.read() as conn:
        rows = conn.execute(
            "SELECT id FROM budgets WHERE workspace_id = ? AND scope_kind = 'view' ORDER BY id",
            (workspace_id,),
        ).fetchall()
        return [str(row[0]) for row in rows]


def delete_budget(catalog: Catalog, workspace_id: str, budget_id: str) -> bool:
    """Delete a budget with its amounts and crossings; whether it existed."""
    with catalog.transaction() as tx:
        cur = tx.execute("DELETE FROM budgets WHERE id = ? AND workspace_id = ?", (budget_id, workspace_id))
        return cur.rowcount == 1


def crossings(catalog: Catalog, budget_id: str, period: str) -> dict[str, Row]:
    """The thresholds of a budget that fired for a period, by threshold key."""
    with catalog.read() as conn:
        rows = conn.execute(
            "SELECT * FROM budget_crossings WHERE budget_id = ? AND period = ?", (budget_id, period)
        ).fetchall()
        return {str(r["threshold"]): r for r in rows}


def record_crossing(
    catalog: Catalog,
    *,
    budget_id: str,
    period: str,
    threshold: str,
    actual: str,
    projected: str,
    emit: Callable[[Connection], str],
) -> str | None:
    """Record that a threshold fired for a period and queue its event, in one transaction.

    Returns the event id, or None when this (budget, period, threshold) had already fired.
    """
    with catalog.transaction() as tx:
        cur = tx.execute(
            "INSERT INTO budget_crossings"
            " (budget_id, period, threshold, crossed_at, actual, projected) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (budget_id, period, threshold, utcnow(), actual, projected),
        )
        if cur.rowcount != 1:
            return None
        event_id = emit(tx)
        tx.execute(
            "UPDATE budget_crossings SET event_id = ? WHERE budget_id = ? AND period = ? AND threshold = ?",
            (event_id, budget_id, period, threshold),
        )
        return event_id


def live_provider(catalog: Catalog, workspace_id: str, provider_id: str) -> bool:
    """Whether the workspace has this provider (not deleted)."""
    with catalog.read() as conn:
        row = conn.execute(
            "SELECT 1 FROM providers WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL",
            (provider_id, workspace_id),
        ).fetchone()
        return row is not None


def provider_by_name(catalog: Catalog, workspace_id: str, name: str) -> str | None:
    """The id of the workspace's live provider with this name, if exactly one has it."""
    with catalog.read() as conn:
        rows = conn.execute(
            "SELECT id FROM providers WHERE workspace_id = ? AND name = ? AND deleted_at IS NULL",
            (workspace_id, name),
        ).fetchall()
        return str(rows[0][0]) if len(rows) == 1 else None


def daily_spend(
    warehouse: Warehouse,
    *,
    workspace_id: str,
    provider_id: str,
    currency: str,
    cost_column: str,
    start: date,
    end: date,
) -> dict[date, Decimal]:
    """Live cost per UTC charge day in [start, end) for one provider and currency (exact decimals)."""
    column = COST_COLUMNS[cost_column]
    with warehouse.cursor() as cur:
        rows = cur.execute(
            f"SELECT charge_day, sum({column}) FROM live_cost_rows"  # noqa: S608 - column from COST_COLUMNS
            " WHERE workspace_id = ? AND provider_id = ? AND BillingCurrency = ?"
            " AND charge_day >= ? AND charge_day < ? GROUP BY charge_day ORDER BY charge_day",
            [workspace_id, provider_id, currency, start, end],
        ).fetchall()
    return {day: Decimal(total) for day, total in rows if total is not None}
