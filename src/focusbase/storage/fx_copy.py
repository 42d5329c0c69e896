"""Copy each workspace's currency conversion rates from a DuckDB warehouse into the ClickHouse warehouse, and
compare the two (`focusbase migrate-storage`).

A workspace's rates are copied with the ClickHouse warehouse's own `replace_rates`, exactly (DECIMAL(38, 10)
to Decimal(38, 10)); a workspace whose rates the target already lists exactly as the source does is skipped,
so a rerun copies nothing twice. The check compares, per workspace, the count and every rate through each
side's `FxRates.list_rates`, so it reads what the API would list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.fx_rates import DuckDBFxRates, FxRates, Listing, Rate
from focusbase.storage.warehouse import Warehouse


@dataclass(frozen=True, slots=True)
class FxCopy:
    """What a copy did: workspaces whose rates were copied, and those the target held already."""

    copied: int
    skipped: int
    rates: int


@dataclass(frozen=True, slots=True)
class FxComparison:
    """One workspace's rates on each side, and the first difference (None when equal)."""

    workspace_id: str
    source: int
    target: int
    difference: str | None


def listing(fx: FxRates, workspace_id: str) -> Listing:
    """Every rate of a workspace, as `list_rates` lists them."""
    count = fx.list_rates(workspace_id, 0)[0]
    return fx.list_rates(workspace_id, count)


def source_workspaces(source: Warehouse) -> list[str]:
    """The workspaces with rates in the DuckDB warehouse."""
    with source.cursor() as cur:
        rows = cur.execute("SELECT DISTINCT workspace_id FROM fx_rates ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows]


def source_rates(source: Warehouse, workspace_id: str) -> list[Rate]:
    """A workspace's rates in the DuckDB warehouse, exact, in (day, from, to) order."""
    with source.cursor() as cur:
        rows = cur.execute(
            "SELECT day, from_currency, to_currency, rate FROM fx_rates WHERE workspace_id = ?"
            " ORDER BY day, from_currency, to_currency",
            [workspace_id],
        ).fetchall()
    return [(day, str(f), str(t), rate) for day, f, t, rate in rows]


def copy_fx_rates(source: Warehouse, target: ClickHouseWarehouse) -> FxCopy:
    """Replace each source workspace's rates in the target with the source's, unless it lists them already."""
    mine = DuckDBFxRates(source)
    copied = skipped = rates = 0
    for workspace_id in source_workspaces(source):
        if listing(target, workspace_id) == listing(mine, workspace_id):
            skipped += 1
            continue
        rates += target.replace_rates(workspace_id, source_rates(source, workspace_id))
        copied += 1
    return FxCopy(copied, skipped, rates)


def compare_fx_rates(source: Warehouse, target: ClickHouseWarehouse) -> list[FxComparison]:
    """Per workspace with rates on either side: the counts and the first rate that differs."""
    mine = DuckDBFxRates(source)
    result = []
    for workspace_id in sorted(set(source_workspaces(source)) | set(target.fx_workspaces())):
        left, right = listing(mine, workspace_id), listing(target, workspace_id)
        result.append(FxComparison(workspace_id, left[0], right[0], _difference(left, right)))
    return result


def _difference(left: Listing, right: Listing) -> str | None:
    """The first difference of two full listings (equal rates make equal pairs)."""
    if left[0] != right[0]:
        return f"{left[0]} rates in the source, {right[0]} in the target"
    for a, b in zip(left[1], right[1], strict=True):
        if a != b:
            return f"{_rate(a)} in the source, {_rate(b)} in the target"
    return None


def _rate(rate: tuple[date, str, str, str]) -> str:
    day, source, target, value = rate
    return f"{source}->{target} {value} on {day.isoformat()}"
