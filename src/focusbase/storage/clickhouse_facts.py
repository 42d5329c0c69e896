"""What the ingest store asks the ClickHouse warehouse about batches: a commit's flip and outcome, which
batches still have live rows, stored counts and the periods a commit replaced."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from focusbase.focus import Dataset
from focusbase.storage.clickhouse_deletion import ClickHouseProviderDeletion
from focusbase.storage.clickhouse_types import COPY_ROW_BASE, LIVE, ROW_BITS, TABLES, BatchRef, checked
from focusbase.storage.cost_rows import CommitOutcome


class ClickHouseBatchFacts(ClickHouseProviderDeletion):
    """Reads about batches, for the ingest store's commit protocol and its recovery."""

    def flipped(self, batch: BatchRef) -> bool:
        """Whether the batch's commit flip is written (its visibility block, deduplicated, is all or none)."""
        rows = self._query(
            "SELECT count() FROM live_day_batches WHERE workspace_id = {ws:String}"
            " AND provider_id = {p:String} AND changed_by = {b:String}",
            {"ws": batch.workspace_id, "p": batch.provider_id, "b": batch.batch_id},
        )
        return int(rows[0][0]) > 0

    def commit_outcome(self, batch: BatchRef) -> CommitOutcome:
        """The outcome of a batch's written commit, computed again from what it stored and retired (after a
        crash between the flip and the catalog's record of it).

        Rows replaced are the rows of the day-batches its flip retired, less those its commit copied in
        (survivors of partly replaced days); superseded batches are the owners of the retired day-batches.
        """
        base = (batch.batch_seq << ROW_BITS) | COPY_ROW_BASE
        params: dict[str, Any] = {
            "ws": batch.workspace_id,
            "p": batch.provider_id,
            "b": batch.batch_id,
            "seq": batch.batch_seq,
            "base": base,
        }
        sums = self._sums(
            "workspace_id = {ws:String} AND batch_seq = {seq:UInt32} AND row_id < {base:UInt64}",
            params,
            batch.dataset,
        )
        retired = self._query(
            "SELECT day_batch, any(batch_id) FROM live_day_batches WHERE workspace_id = {ws:String}"
            " AND provider_id = {p:String} AND changed_by = {b:String} AND is_deleted = 1"
            " GROUP BY day_batch ORDER BY day_batch",
            params,
        )
        params["retired"] = [int(r[0]) for r in retired]
        gone = self._sums(
            "workspace_id = {ws:String} AND day_batch IN {retired:Array(UInt64)}", params, batch.dataset
        )
        kept = self._sums(
            "workspace_id = {ws:String} AND batch_seq = {seq:UInt32} AND row_id >= {base:UInt64}",
            params,
            batch.dataset,
        )
        replaced = _difference(gone, kept)
        return CommitOutcome(
            rows=sum(int(e["rows"]) for e in sums.values()),
            sums=sums,
            replaced_rows=sum(int(e["rows"]) for e in replaced.values()),
            replaced_sums=replaced,
            superseded_batches=sorted({str(r[1]) for r in retired}),
        )

    def batches_with_live_rows(self, workspace_id: str, batch_ids: list[str], dataset: Dataset) -> set[str]:
        """Those of `batch_ids` that still own a live day-batch (the others are wholly superseded)."""
        if not batch_ids:
            return set()
        sql = "SELECT DISTINCT batch_id FROM live_day_batches WHERE workspace_id = {ws:String}"
        sql += " AND dataset = {d:String} AND batch_id IN {ids:Array(String)} AND " + LIVE  # LIVE is ours
        rows = self._query(
            sql,
            {"ws": workspace_id, "d": dataset.value, "ids": batch_ids},
        )
        return {str(r[0]) for r in rows}

    def stored_row_counts(self, workspace_id: str, provider_id: str) -> dict[str, int]:
        """Rows of a provider, every version and staged ones, per dataset (as DuckDB counts them)."""
        counts = {}
        for key, dataset in (
            ("cost", Dataset.COST_AND_USAGE),
            ("contractCommitment", Dataset.CONTRACT_COMMITMENT),
        ):
            rows = self._query(
                f"SELECT count() FROM {TABLES[dataset].name} WHERE workspace_id = {{ws:String}}"  # noqa: S608
                " AND provider_id = {p:String}",
                {"ws": workspace_id, "p": provider_id},
            )
            counts[key] = int(rows[0][0])
        return counts

    def replaced_periods(self, batch: BatchRef) -> list[dict[str, Any]]:
        """Per billing month and currency: the rows and BilledCost a committed batch's flip retired, less
        the survivors it copied in (as DuckDB's `restatements.replaced_periods`)."""
        params: dict[str, Any] = {
            "ws": batch.workspace_id,
            "p": batch.provider_id,
            "b": batch.batch_id,
            "seq": batch.batch_seq,
            "base": (batch.batch_seq << ROW_BITS) | COPY_ROW_BASE,
        }
        params["retired"] = [
            int(r[0])
            for r in self._query(
                "SELECT DISTINCT day_batch FROM live_day_batches WHERE workspace_id = {ws:String}"
                " AND provider_id = {p:String} AND changed_by = {b:String} AND is_deleted = 1",
                params,
            )
        ]
        if not params["retired"] or batch.dataset is not Dataset.COST_AND_USAGE:
            return []
        group = (
            "SELECT formatDateTime(\"BillingPeriodStart\", '%Y-%m', 'UTC'),"
            ' coalesce("BillingCurrency", \'\'), count(), sum(toDecimal256("BilledCost", 12))'
            " FROM cost_rows WHERE {where} GROUP BY 1, 2"
        )
        gone = self._query(
            group.format(where="workspace_id = {ws:String} AND day_batch IN {retired:Array(UInt64)}"), params
        )
        kept = {
            (r[0], r[1]): (int(r[2]), r[3] or Decimal(0))
            for r in self._query(
                group.format(
                    where="workspace_id = {ws:String} AND batch_seq = {seq:UInt32}"
                    " AND row_id >= {base:UInt64}"
                ),
                params,
            )
        }
        out = []
        for period, currency, count, total in sorted(gone, key=lambda r: (r[0] is None, r[0] or "", r[1])):
            less_rows, less_cost = kept.get((period, currency), (0, Decimal(0)))
            rows = int(count) - less_rows
            if rows <= 0:
                continue
            # Written as DuckDB writes a DECIMAL(38, 12) sum: every decimal place.
            cost = None if total is None else format(Decimal(total) - Decimal(less_cost), ".12f")
            out.append(
                {
                    "period": period,
                    "providerId": batch.provider_id,
                    "currency": currency or None,
                    "rows": rows,
                    "billedCost": cost,
                }
            )
        return out


def _difference(
    gone: dict[str, dict[str, Any]], kept: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per currency: `gone` less `kept` (rows and each exact sum)."""
    out: dict[str, dict[str, Any]] = {}
    for currency, entry in gone.items():
        less = kept.get(currency, {})
        rows = int(entry["rows"]) - int(less.get("rows", 0))
        if rows <= 0:
            continue
        result: dict[str, Any] = {"rows": rows}
        for name, value in entry.items():
            if name != "rows":
                result[name] = checked(Decimal(value) - Decimal(less.get(name, "0")))
        out[currency] = result
    return out
