"""A workspace's currency conversion rates, on whichever warehouse holds them.

`FxRates` is what the rates service (analytics/fx.py) needs: replace every rate of a workspace at once, and
list them (their count, the first ones, and per currency pair the first and last day). `DuckDBFxRates` keeps
them in the embedded warehouse's `fx_rates` table (storage/fx.py), where the explorer's conversion joins them;
the ClickHouse warehouse keeps them in its own `fx_rates` (storage/clickhouse_fx.py) with the same answers.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Protocol

from focusbase.storage import fx as store
from focusbase.storage.warehouse import Warehouse

Rate = tuple[date, str, str, Decimal]  # (day, from, to, rate): amount in `from` x rate = amount in `to`
ListedRate = tuple[date, str, str, str]  # the rate as DECIMAL(38, 10) text, every decimal place
Pair = tuple[str, str, date, date, int]  # (from, to, first day, last day, rates)
Listing = tuple[int, list[ListedRate], list[Pair]]


class FxRates(Protocol):
    """A workspace's rates: replaced as a whole, listed."""

    def replace_rates(self, workspace_id: str, rates: list[Rate]) -> int:
        """Replace every rate of the workspace with these, atomically for readers; returns how many.

        Rates are positive with at most 10 decimals (DECIMAL(38, 10)), one per (day, from, to); an empty
        list removes every rate of the workspace.
        """
        ...

    def list_rates(self, workspace_id: str, limit: int) -> Listing:
        """The workspace's rate count, its first `limit` rates by (day, from, to) and, per currency pair
        (ordered by from, to), its first and last day and its number of rates; all from one set of rates."""
        ...


class DuckDBFxRates:
    """The embedded warehouse's rates (storage/fx.py, in one transaction each)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def replace_rates(self, workspace_id: str, rates: list[Rate]) -> int:
        return store.replace_rates(self.warehouse, workspace_id, rates)

    def list_rates(self, workspace_id: str, limit: int) -> Listing:
        return store.list_rates(self.warehouse, workspace_id, limit)
