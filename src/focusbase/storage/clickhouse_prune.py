"""Retention for the ClickHouse warehouse: delete superseded versions beyond the newest `keep` per day.

DuckDB's `cost_rows.prune` (run after every commit with FOCUSBASE_KEEP_SUPERSEDED_VERSIONS) deletes the rows
of superseded (batch, day) versions beyond the newest `keep` per provider-day. Here a (batch, day) is a
day-batch, so prune deletes the rows and rollup rows of the same units. The visibility rows stay (they are
tiny): a revert still finds what it would restore, sees that the rows are gone, and is refused as DuckDB
refuses it.
"""

from __future__ import annotations

from typing import Any

from focusbase.focus import Dataset
from focusbase.storage.catalog import Catalog
from focusbase.storage.clickhouse_exports import ClickHouseExports
from focusbase.storage.clickhouse_insights import ClickHouseInsightReads
from focusbase.storage.clickhouse_series import ClickHouseSpendSeries
from focusbase.storage.clickhouse_types import TABLES, BatchRef, RevertRefused


class ClickHouseRetention(ClickHouseExports, ClickHouseInsightReads, ClickHouseSpendSeries):
    """`prune` and the revert check it implies; `ClickHouseWarehouse` adds the other writes."""

    catalog: Catalog

    def prunable(
        self, workspace_id: str, provider_id: str, keep: int, dataset: Dataset = Dataset.COST_AND_USAGE
    ) -> list[int]:
        """Superseded day-batches that still hold rows, beyond the newest `keep` per day (the provider's
        versions; Contract Commitment rows have no charge day, so all of them share one day)."""
        if keep < 0:
            raise ValueError("keep must be 0 or more")
        name = TABLES[dataset].name
        # Ranked among the day-batches that still hold rows, as DuckDB ranks the rows it still has; on one
        # day, day_batch order is batch_seq order (commit order), DuckDB's max(row_seq) order.
        rows = self._query(
            "SELECT day_batch FROM (SELECT day_batch, row_number() OVER (PARTITION BY day ORDER BY day_batch"  # noqa: S608
            " DESC) AS version FROM (SELECT day_batch, argMax(charge_day, commit_seq) AS day"
            " FROM live_day_batches WHERE workspace_id = {ws:String} AND provider_id = {p:String}"
            " AND dataset = {d:String} GROUP BY day_batch HAVING argMax(is_deleted, commit_seq) = 1)"
            f" WHERE day_batch IN (SELECT DISTINCT day_batch FROM {name} WHERE workspace_id = {{ws:String}}"
            " AND provider_id = {p:String})) WHERE version > {keep:UInt32} ORDER BY day_batch",
            {"ws": workspace_id, "p": provider_id, "d": dataset.value, "keep": keep},
        )
        return [int(r[0]) for r in rows]

    def prune(
        self, workspace_id: str, provider_id: str, keep: int, dataset: Dataset = Dataset.COST_AND_USAGE
    ) -> int:
        """Delete the rows (and rollup rows) of superseded versions beyond the newest `keep` per provider-day.

        Never a live day-batch: only day-batches whose newest visibility version retires them. Returns the
        rows deleted. Lightweight DELETEs, synchronous; reads never see these rows (they are not live).
        """
        with self.catalog.writer_lock(provider_id):
            pruned = self.prunable(workspace_id, provider_id, keep, dataset)
            if not pruned:
                return 0
            name = TABLES[dataset].name
            params: dict[str, Any] = {"ws": workspace_id, "pruned": pruned}
            where = "workspace_id = {ws:String} AND day_batch IN {pruned:Array(UInt64)}"
            deleted = int(self._query(f"SELECT count() FROM {name} WHERE {where}", params)[0][0])  # noqa: S608
            tables = ["cost_rollup_daily", name] if dataset is Dataset.COST_AND_USAGE else [name]
            # The rollup first, then the rows: after a crash between, the rows are still there, so a re-run
            # finds the day-batches again; no read counts either meanwhile (they are not live).
            for table in tables:
                self._command(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608
            return deleted

    def _pruned_check(self, batch: BatchRef, replaced: list[int]) -> None:
        """Refuse a revert that needs day-batches `prune` deleted, as DuckDB refuses (revert_unavailable).

        A day-batch always holds rows (it is named by its rows' batch and day): one without rows was pruned.
        """
        if not replaced:
            return
        kept = {
            int(r[0])
            for r in self._query(
                f"SELECT DISTINCT day_batch FROM {TABLES[batch.dataset].name}"  # noqa: S608
                " WHERE workspace_id = {ws:String} AND day_batch IN {r:Array(UInt64)}",
                {"ws": batch.workspace_id, "r": replaced},
            )
        }
        gone = [db for db in replaced if db not in kept]
        if gone:
            raise RevertRefused(
                f"{len(gone)} day-batches batch {batch.batch_id} replaced are no longer kept (prune keeps"
                " only the newest superseded versions per day); it cannot be reverted"
            )
