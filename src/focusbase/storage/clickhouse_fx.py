"""A workspace's currency conversion rates in the ClickHouse warehouse (`storage.fx_rates.FxRates`).

ClickHouse has no transaction to delete the old rates and insert the new ones in, so an upload is a new set
(migration 0009): its rates are inserted under a fresh `set_id` that no reader looks at, then one row in
`fx_rate_sets` publishes the set. That row is a single-row INSERT: one block, so one part of an unpartitioned
MergeTree, which ClickHouse makes visible all at once. Readers (the listing here, the explorer's conversion)
take the newest published set by (version, set_id) in the same statement as they read its rates, so they see
the whole new set or the whole old one, never a mix, however many blocks the rates themselves took.

Old sets are deleted by later uploads, once no reader can still be reading them: a set is deleted only when
a newer one was published `fx_keep_seconds` ago (a statement that picked the older set before then has long
finished), and rates whose publishing row never came (a failed upload) after as long.
"""

from __future__ import annotations

import secrets
import time
from datetime import date, timedelta
from typing import Any

import pyarrow as pa

from focusbase.storage.clickhouse_reads import ClickHouseReads
from focusbase.storage.fx_rates import Listing, Rate

_EPOCH = date(1970, 1, 1)
# The set a reader converts with: the workspace's newest published set ('' when it has none, which no rate
# holds). `{fx_ws:String}` names the workspace.
NEWEST_SET = (
    "(SELECT argMax(set_id, (version, set_id)) FROM fx_rate_sets WHERE workspace_id = {fx_ws:String})"
)


def day_number(day: date) -> int:
    """A day as fx_rates stores it: days since 1970-01-01 (ClickHouse's toInt32 of a Date)."""
    return (day - _EPOCH).days


class ClickHouseFxRates(ClickHouseReads):
    """`replace_rates` and `list_rates`; mixed into the warehouse with its other operations."""

    _write_settings: dict[str, Any]
    # How long a replaced set is kept for readers that picked it before the replace.
    fx_keep_seconds: float = 3600.0
    fx_chunk_rows = 50_000  # rates per insert

    def replace_rates(self, workspace_id: str, rates: list[Rate]) -> int:
        """Replace every rate of the workspace with these (day, from, to, rate) rows, atomically for readers.

        ValueError when a rate does not fit DECIMAL(38, 10), as DuckDB's replace refuses it.
        """
        set_id = secrets.token_hex(16)
        # The rates' Arrow table refuses what the embedded warehouse's does (a 29th integer digit, an 11th
        # decimal) before anything is written.
        table = pa.table(
            {
                "workspace_id": pa.array([workspace_id] * len(rates), pa.string()),
                "set_id": pa.array([set_id] * len(rates), pa.string()),
                "day": pa.array([day_number(r[0]) for r in rates], pa.int32()),
                "from_currency": pa.array([r[1] for r in rates], pa.string()),
                "to_currency": pa.array([r[2] for r in rates], pa.string()),
                "rate": pa.array([r[3] for r in rates], pa.decimal128(38, 10)),
            }
        )
        newest = self._query(
            "SELECT max(version) FROM fx_rate_sets WHERE workspace_id = {ws:String}", {"ws": workspace_id}
        )
        # Above every version this uploader saw, so a writer with a slow clock still publishes the newest.
        version = max(time.time_ns(), int(newest[0][0]) + 1 if newest else 0)
        # Unpublished, the set's rates may take any number of inserts and blocks: no reader looks at them.
        for start in range(0, table.num_rows, self.fx_chunk_rows):
            with self._client_lock:
                chunk = table.slice(start, self.fx_chunk_rows)
                self._client.insert_arrow("fx_rates", chunk, settings=self._write_settings)
        with self._client_lock:  # the publishing row: one row, one block, visible all at once
            self._client.insert(
                "fx_rate_sets",
                [(workspace_id, version, set_id, len(rates))],
                column_names=["workspace_id", "version", "set_id", "rates"],
                settings=self._write_settings,
            )
        self._delete_old_sets(workspace_id)
        return len(rates)

    def _delete_old_sets(self, workspace_id: str) -> None:
        """Delete the sets a newer one replaced `fx_keep_seconds` ago, and rates never published since."""
        keep = {"ws": workspace_id, "keep": int(self.fx_keep_seconds * 1_000_000)}
        old = self._query(
            "SELECT set_id FROM fx_rate_sets WHERE workspace_id = {ws:String} AND (version, set_id) <"
            " (SELECT max((version, set_id)) FROM fx_rate_sets WHERE workspace_id = {ws:String}"
            " AND written_at < now64(6) - toIntervalMicrosecond({keep:Int64}))",
            keep,
        )
        unpublished = self._query(
            "SELECT DISTINCT set_id FROM fx_rates WHERE workspace_id = {ws:String}"
            " AND staged_at < now64(6) - toIntervalMicrosecond({keep:Int64}) AND set_id NOT IN"
            " (SELECT set_id FROM fx_rate_sets WHERE workspace_id = {ws:String})",
            keep,
        )
        gone = sorted({str(r[0]) for r in old} | {str(r[0]) for r in unpublished})
        if not gone:
            return
        params = {"ws": workspace_id, "sets": gone}
        # Rates first: a set whose publishing row went first would be taken for a failed upload's.
        self._command(
            "DELETE FROM fx_rates WHERE workspace_id = {ws:String} AND set_id IN {sets:Array(String)}", params
        )
        self._command(
            "DELETE FROM fx_rate_sets WHERE workspace_id = {ws:String} AND set_id IN {sets:Array(String)}",
            params,
        )

    def list_rates(self, workspace_id: str, limit: int) -> Listing:
        """The workspace's rate count, its first `limit` rates and, per currency pair, first and last day."""
        published = self._query(
            "SELECT set_id, rates FROM fx_rate_sets WHERE workspace_id = {ws:String}"
            " ORDER BY version DESC, set_id DESC LIMIT 1",
            {"ws": workspace_id},
        )
        if not published:
            return 0, [], []
        set_id, count = str(published[0][0]), int(published[0][1])
        # The set is pinned by its id: a replace meanwhile publishes another set and leaves this one whole.
        params = {"ws": workspace_id, "set": set_id, "limit": max(limit, 0)}
        where = "workspace_id = {ws:String} AND set_id = {set:String}"
        rows = self._query(
            f"SELECT day, from_currency, to_currency, rate FROM fx_rates WHERE {where}"  # noqa: S608
            " ORDER BY day, from_currency, to_currency LIMIT {limit:UInt64}",
            params,
        )
        pairs = self._query(
            "SELECT from_currency, to_currency, min(day), max(day), count() FROM fx_rates"  # noqa: S608
            f" WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2",
            params,
        )
        return (
            count,
            [(_day(d), str(f), str(t), f"{rate:.10f}") for d, f, t, rate in rows],
            [(str(f), str(t), _day(first), _day(last), int(n)) for f, t, first, last, n in pairs],
        )

    def fx_workspaces(self) -> list[str]:
        """The workspaces whose newest set holds rates (for `migrate-storage`'s check)."""
        rows = self._query(
            "SELECT workspace_id FROM fx_rate_sets GROUP BY workspace_id"
            " HAVING argMax(rates, (version, set_id)) > 0 ORDER BY workspace_id"
        )
        return [str(r[0]) for r in rows]


def _day(number: int) -> date:
    return _EPOCH + timedelta(days=int(number))
