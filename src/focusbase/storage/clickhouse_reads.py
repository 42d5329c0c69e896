"""Reads of the ClickHouse warehouse's live rows: sums, keyset pages and grouped totals, exact.

Every read keeps only live day-batches (`LIVE`), so it sees a commit, replace, revert or provider deletion
all at once or not at all. Sums accumulate in Decimal256 and are checked against DECIMAL(38, 12).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date
from typing import Any

from focusbase.focus import Dataset
from focusbase.storage.clickhouse_types import (
    CATALOG_TIME,
    DERIVED,
    GROUPABLE,
    INSERT_SETTINGS,
    LIVE,
    ROLLUP_MEASURES,
    TABLES,
    Page,
    checked,
)


class ClickHouseReads:
    """The client plumbing and the read operations; `ClickHouseWarehouse` adds the writes."""

    _client: Any
    _client_lock: threading.RLock

    def _query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[Sequence[Any]]:
        with self._client_lock:
            rows: list[Sequence[Any]] = self._client.query(sql, parameters=parameters or {}).result_rows
            return rows

    def _command(self, sql: str, parameters: dict[str, Any] | None = None) -> None:
        with self._client_lock:
            self._client.command(sql, parameters=parameters or {}, settings=INSERT_SETTINGS)

    def _sums(
        self, where: str, params: dict[str, Any], dataset: Dataset = Dataset.COST_AND_USAGE
    ) -> dict[str, dict[str, Any]]:
        table = TABLES[dataset]
        select = ", ".join(f'sum(toDecimal256("{c}", 12))' for c in table.summed)
        rows = self._query(
            f"SELECT ifNull(\"BillingCurrency\", ''), count(), {select} FROM {table.name}"  # noqa: S608
            f" WHERE {where} GROUP BY 1 ORDER BY 1",
            params,
        )
        result: dict[str, dict[str, Any]] = {}
        for currency, count, *totals in rows:
            entry: dict[str, Any] = {"rows": int(count)}
            for name, total in zip(table.summed, totals, strict=True):
                entry[name] = checked(total)
            result[str(currency)] = entry
        return result

    def live_sums(
        self, workspace_id: str, dataset: Dataset = Dataset.COST_AND_USAGE
    ) -> dict[str, dict[str, Any]]:
        """Rows and exact sums per currency over a workspace's live rows of one dataset."""
        return self._sums(f"workspace_id = {{ws:String}} AND {LIVE}", {"ws": workspace_id}, dataset)

    def read_page(
        self,
        workspace_id: str,
        columns: Sequence[str],
        *,
        after: int = 0,
        limit: int = 1000,
        dataset: Dataset = Dataset.COST_AND_USAGE,
    ) -> Page:
        """Live rows after a row_id, in row_id order (keyset: no OFFSET however deep the page)."""
        name = TABLES[dataset].name
        known = {
            str(r[0])
            for r in self._query(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
                {"t": name},
            )
        }
        unknown = [column for column in columns if column not in known]
        if unknown:
            raise ValueError(f"not stored columns: {unknown}")
        select = ", ".join(f'"{column}"' for column in columns)
        rows = self._query(
            f"SELECT row_id, {select} FROM {name} WHERE workspace_id = {{ws:String}} AND {LIVE}"  # noqa: S608
            " AND row_id > {after:UInt64} ORDER BY row_id LIMIT {n:UInt32}",
            {"ws": workspace_id, "after": after, "n": limit + 1},
        )
        more = len(rows) > limit
        rows = rows[:limit]
        records = [dict(zip(columns, row[1:], strict=True)) for row in rows]
        return Page(records, int(rows[-1][0]) if more and rows else None)

    def daily_totals(self, workspace_id: str, dimension: str) -> list[tuple[date, str, str, str]]:
        """(day, currency, dimension value, exact BilledCost) over live rows: the explorer's common shape."""
        return self._daily(workspace_id, dimension, 'sum(toDecimal256("BilledCost", 12))', "cost_rows")

    def _daily(
        self, workspace_id: str, dimension: str, total: str, source: str
    ) -> list[tuple[date, str, str, str]]:
        """(day, currency, dimension value, `total`) over `source`'s live rows (both are our own SQL).

        Values as text: the billing period's times as ClickHouse writes them, the same from rows and rollup.
        """
        if dimension not in GROUPABLE:
            raise ValueError(f"cannot group by {dimension!r}")
        rows = self._query(
            f"SELECT charge_day, ifNull(\"BillingCurrency\", ''), ifNull(toString(\"{dimension}\"), '')"  # noqa: S608
            f", {total}"
            f" FROM {source} WHERE workspace_id = {{ws:String}} AND {LIVE} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            {"ws": workspace_id},
        )
        return [(r[0], str(r[1]), str(r[2]), checked(r[3])) for r in rows]

    def tag_totals(self, workspace_id: str, tag: str) -> list[tuple[str, str | None, str]]:
        """(currency, the tag's value as its JSON literal or None, exact BilledCost) over live rows."""
        value = "if(mapContains(tags_kv, {tag:String}), tags_kv[{tag:String}], NULL)"
        rows = self._query(
            f'SELECT ifNull("BillingCurrency", \'\'), {value}, sum(toDecimal256("BilledCost", 12))'  # noqa: S608
            f" FROM cost_rows WHERE workspace_id = {{ws:String}} AND {LIVE} GROUP BY 1, 2 ORDER BY 1, 2",
            {"ws": workspace_id, "tag": tag},
        )
        return [(str(r[0]), None if r[1] is None else str(r[1]), checked(r[2])) for r in rows]

    def live_totals(
        self, workspace_id: str, columns: Sequence[str], dataset: Dataset = Dataset.COST_AND_USAGE
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Rows and exact sums of `columns` per (provider, currency) over a workspace's live rows."""
        unknown = [name for name in columns if name not in self.stored_columns(dataset)]
        if unknown:
            raise ValueError(f"not stored columns: {unknown}")
        select = "".join(f', sum(toDecimal256("{c}", 12))' for c in columns)
        rows = self._query(
            f"SELECT provider_id, ifNull(\"BillingCurrency\", ''), count(){select}"  # noqa: S608
            f" FROM {TABLES[dataset].name} WHERE workspace_id = {{ws:String}} AND {LIVE}"
            " GROUP BY 1, 2 ORDER BY 1, 2",
            {"ws": workspace_id},
        )
        result: dict[tuple[str, str], dict[str, Any]] = {}
        for provider, currency, count, *totals in rows:
            entry: dict[str, Any] = {"rows": int(count)}
            for name, total in zip(columns, totals, strict=True):
                entry[name] = checked(total)
            result[(str(provider), str(currency))] = entry
        return result

    def workspaces(self) -> list[str]:
        """Workspaces with a visibility row (live or retired)."""
        return [
            str(r[0]) for r in self._query("SELECT DISTINCT workspace_id FROM live_day_batches ORDER BY 1")
        ]

    def stored_columns(self, dataset: Dataset = Dataset.COST_AND_USAGE) -> list[str]:
        """The FOCUS columns a staged part of the dataset may carry (without the columns stage() derives)."""
        rows = self._query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String}"
            " AND default_kind != 'MATERIALIZED' ORDER BY position",
            {"t": TABLES[dataset].name},
        )
        return [str(r[0]) for r in rows if str(r[0]) not in DERIVED]

    def batch_seqs(self) -> dict[str, int]:
        """The batch_seq of every batch with rows here, staged or live, of either dataset."""
        rows = self._query(
            "SELECT batch_id, min(batch_seq) FROM cost_rows GROUP BY batch_id UNION ALL"
            " SELECT batch_id, min(batch_seq) FROM contract_commitment_rows GROUP BY batch_id"
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def tombstones(self) -> list[tuple[str, str, str]]:
        """(workspace, provider, deleted_at as the catalog writes it) of every tombstoned provider."""
        rows = self._query(
            "SELECT workspace_id, provider_id, min(deleted_at) FROM deleted_providers"
            " GROUP BY 1, 2 ORDER BY 1, 2"
        )
        # A naive time is UTC already (the column's zone); an aware one is put in UTC.
        return [
            (
                str(r[0]),
                str(r[1]),
                (r[2] if r[2].tzinfo is None else r[2].astimezone(UTC)).strftime(CATALOG_TIME),
            )
            for r in rows
        ]

    def committed_batches(self) -> set[str]:
        """Batches whose commit (its visibility block) is written, whether or not a revert followed."""
        rows = self._query("SELECT DISTINCT changed_by FROM live_day_batches")
        return {str(r[0]) for r in rows}

    def custom_totals(self, workspace_id: str, column: str) -> list[tuple[str, str | None, str]]:
        """(currency, the x_ column's value or None, exact BilledCost) over live rows.

        The value is what DuckDB's `json_extract_string(x_columns, '$."x_..."')` gives: a string unquoted,
        None where the column is absent or JSON null.
        """
        if not column.startswith("x_"):
            raise ValueError(f"not a custom column: {column!r}")
        raw = "x_kv[{c:String}]"
        value = (
            f"multiIf(NOT mapContains(x_kv, {{c:String}}) OR {raw} = 'null', NULL,"
            f" startsWith({raw}, '\"'), JSONExtractString({raw}), {raw})"
        )
        rows = self._query(
            f'SELECT ifNull("BillingCurrency", \'\'), {value}, sum(toDecimal256("BilledCost", 12))'  # noqa: S608
            f" FROM cost_rows WHERE workspace_id = {{ws:String}} AND {LIVE} GROUP BY 1, 2 ORDER BY 1, 2",
            {"ws": workspace_id, "c": column},
        )
        return [(str(r[0]), None if r[1] is None else str(r[1]), checked(r[2])) for r in rows]

    def rollup_daily_totals(
        self, workspace_id: str, dimension: str, measure: str = "BilledCost"
    ) -> list[tuple[date, str, str, str]]:
        """`daily_totals` answered from the daily rollup (same live filter, same exact sums), not the rows."""
        if measure not in ROLLUP_MEASURES:
            raise ValueError(f"not a rollup measure: {measure!r}")
        return self._daily(workspace_id, dimension, f'sum("{measure}")', "cost_rollup_daily")

    # ----------------------------------------------------------------------------------- provider delete
