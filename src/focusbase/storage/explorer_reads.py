"""The Data Explorer's reads, on whichever warehouse holds the rows.

`ExplorerReads` is what the explorer service (analytics/explorer.py) needs: for a key's scope and a query, the
aggregate (split by currency and unit, bucketed, grouped, top-N + Other), where the matching data lies
(provider-days and billing periods) and each provider's last change, all within a time limit.
`DuckDBExplorerReads` answers from the embedded warehouse in one snapshot; the ClickHouse warehouse answers
the same operation (storage/clickhouse_explorer.py) with the same cells for the same live rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from focusbase.analytics.model import ExplorerQuery
from focusbase.query.filters import Scope
from focusbase.storage import analytics as store
from focusbase.storage.warehouse import Warehouse


@dataclass(frozen=True, slots=True)
class Exploration:
    """An answered explorer query: whether the daily rollup answered, the aggregate, its coverage and the
    last change (commit or revert of a Cost and Usage batch) per provider in scope."""

    rollup: bool
    aggregate: store.Aggregate
    coverage: store.Coverage
    last_updates: dict[str, datetime]


class ExplorerReads(Protocol):
    """The explorer's aggregate with its markers."""

    def explore(
        self, scope: Scope, query: ExplorerQuery, *, max_rows: int, timeout_seconds: float
    ) -> Exploration:
        """Answer `query` over the scope's live rows: at most `max_rows` cells (`truncated` beyond them).

        With `query.currency`, sums are converted with the workspace's rates as storage.analytics converts
        them. Raises QueryTimeout past `timeout_seconds`, ValueOutOfRange when a sum or conversion does not
        fit DECIMAL(38, 12).
        """
        ...


class DuckDBExplorerReads:
    """The embedded warehouse's answers: the aggregate and its markers from one snapshot, one deadline."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def explore(
        self, scope: Scope, query: ExplorerQuery, *, max_rows: int, timeout_seconds: float
    ) -> Exploration:
        source = store.source_for(query)
        with self.warehouse.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")  # one snapshot for the figures and their markers
            try:
                with store.deadline(cur, timeout_seconds):
                    result = store.aggregate(cur, scope, query, source, max_rows=max_rows)
                    covered = store.coverage(cur, scope, query, source)
                    updates = store.last_updates(cur, scope)
            finally:
                cur.execute("ROLLBACK")
        return Exploration(source.is_rollup, result, covered, updates)
