"""A ClickHouse warehouse for Cost and Usage rows (scale-out prototype; docs/scaling.md).

ClickHouse has no multi-statement transactions, so rows are immutable once inserted and a small visibility
table says which (batch, day) units are live. Staging inserts rows that no read can see (no visibility row
names them); commit, replace and revert are each **one** INSERT block into the unpartitioned
`live_day_batches`, which ClickHouse applies atomically, so a reader sees all of the old day-batches or all
of the new. Reads keep the rows whose `day_batch` is live. Sums accumulate in Decimal256 (ClickHouse does not
check Decimal128 overflow) and are checked against DECIMAL(38, 12) before they are answered.

Same client code for a server (clickhouse-connect over HTTP) and for tests and development (chDB, the engine
embedded): `clickhouse_client.open_client(url)`. This module holds the writes (stage, commit, revert);
provider deletion is `clickhouse_deletion.py`, pruning superseded versions `clickhouse_prune.py`, the reads
`clickhouse_reads.py`, the shapes and the live filter `clickhouse_types.py`.
Not yet wired into the server: the batches table, the commit outbox and the ingest path come next
(docs/scaling.md, "Not built yet").
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from focusbase.focus import Dataset
from focusbase.storage import migrations
from focusbase.storage.catalog import Catalog
from focusbase.storage.clickhouse_facts import ClickHouseBatchFacts
from focusbase.storage.clickhouse_fx import ClickHouseFxRates
from focusbase.storage.clickhouse_replicas import ReplicaSet, quorum_settings
from focusbase.storage.clickhouse_types import (
    COMMITMENT_KINDS,
    COPY_ROW_BASE,
    DAY_BITS,
    INSERT_SETTINGS,
    ROW_BITS,
    TABLES,
    BatchRef,
    ClickHouseCommitOutcome,
    RevertOutcome,
    RevertRefused,
)
from focusbase.storage.cost_rows import CUSTOM_COLUMN, Replace
from focusbase.storage.providers import ProviderDeleted

MIGRATIONS = "clickhouse_warehouse"


def custom_columns_as_text(rows: pa.Table) -> pa.Table:
    """Rows with the ingest layer's struct of x_ columns (CUSTOM_COLUMN) as x_columns JSON text.

    The text is what DuckDB's warehouse stores (`to_json` of the same struct, by DuckDB itself), so a row's
    custom columns are served identically by both warehouses.
    """
    if CUSTOM_COLUMN not in rows.column_names:
        return rows
    con = duckdb.connect()
    try:
        con.register("__rows", rows.select([CUSTOM_COLUMN]))
        sql = f"SELECT CAST(to_json({CUSTOM_COLUMN}) AS VARCHAR) AS x FROM __rows"  # noqa: S608 - a constant
        text = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    return rows.drop_columns([CUSTOM_COLUMN]).append_column("x_columns", text.column("x"))


class ClickHouseWarehouse(ClickHouseBatchFacts, ClickHouseFxRates):
    """Cost and Usage and Contract Commitment rows in ClickHouse behind the warehouse's operations."""

    def __init__(
        self,
        client: Any,
        catalog: Catalog,
        *,
        replicas: int = 1,
        replica_clients: dict[str, Any] | None = None,
        replica_wait_seconds: float = 30.0,
    ) -> None:
        """`replicas`: replicas of the shard; above 1, writes wait for that quorum and a commit first sees
        every staged row on each of `replica_clients` (name -> a client of that one replica)."""
        # A clickhouse-connect client is not safe for concurrent queries; one lock per client keeps the
        # prototype correct (a server deployment gives each thread a client of its own).
        self._client = client
        self._client_lock = threading.RLock()
        # The catalog's per-provider writer lock orders the commits of one provider across replicas.
        self.catalog = catalog
        self.replicas = ReplicaSet(replicas, replica_clients or {}, replica_wait_seconds)
        # Every write of rows or visibility: synchronous, and acknowledged by all replicas when there are
        # several (insert_quorum; sequential, so a quorum read sees every acknowledged insert).
        self._write_settings: dict[str, Any] = {
            **INSERT_SETTINGS,
            **quorum_settings(replicas),
            # A retried insert dropped as a duplicate is dropped from the rollup's view too, and only then.
            "deduplicate_blocks_in_dependent_materialized_views": 1,
        }
        self.migrate()

    # ------------------------------------------------------------------------------------------- plumbing

    def migrate(self) -> list[str]:
        """Apply pending ClickHouse migrations (DDL is not transactional: each statement is idempotent)."""
        self._command(
            "CREATE TABLE IF NOT EXISTS schema_migrations (number UInt32, name String,"
            " applied_at DateTime64(6, 'UTC')) ENGINE = ReplacingMergeTree ORDER BY number"
        )
        applied = {int(row[0]) for row in self._query("SELECT number FROM schema_migrations")}

        def run(migration: migrations.Migration) -> None:
            from focusbase.storage.catalog import split_statements

            for statement in split_statements(migration.sql):
                self._command(statement.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1))
            self._command(
                "INSERT INTO schema_migrations VALUES ({n:UInt32}, {name:String}, now64(6))",
                {"n": migration.number, "name": migration.name},
            )

        return migrations.apply_all(MIGRATIONS, applied, run)

    @contextmanager
    def _provider_lock(self, provider_id: str) -> Iterator[None]:
        with self.catalog.writer_lock(provider_id):
            yield

    # -------------------------------------------------------------------------------------------- staging

    def stage(self, batch: BatchRef, part_no: int, first_row: int, rows: pa.Table) -> int:
        """Insert a part's rows (stored FOCUS columns) invisibly; a retry of the same part stores nothing.

        `first_row` is the batch-wide number of the part's first row; row ids follow from it, so a part
        sent again is the same block and ClickHouse's insert deduplication drops it.
        """
        table_of = TABLES[batch.dataset]
        count = int(rows.num_rows)
        if first_row < 0 or first_row + count >= COPY_ROW_BASE:
            raise ValueError("row numbers of a batch must stay below 2^31")
        if "ChargePeriodStart" in rows.column_names:
            days = pc.cast(pc.cast(rows["ChargePeriodStart"], pa.timestamp("us", tz="UTC")), pa.date32())
            day_numbers = pc.fill_null(pc.cast(days, pa.int32()), 0)
        else:
            day_numbers = pa.array([0] * count, pa.int32())
        if count and pc.min(day_numbers).as_py() < 0:
            raise ValueError("ChargePeriodStart before 1970-01-01 cannot be stored")
        day_numbers = pc.cast(day_numbers, pa.uint64())
        seq = pa.scalar(batch.batch_seq, pa.uint64())
        meta = {
            "workspace_id": pa.array([batch.workspace_id] * count, pa.string()),
            "provider_id": pa.array([batch.provider_id] * count, pa.string()),
            "batch_id": pa.array([batch.batch_id] * count, pa.string()),
            "batch_seq": pa.array([batch.batch_seq] * count, pa.uint32()),
            "day_batch": pc.bit_wise_or(pc.shift_left(seq, pa.scalar(DAY_BITS, pa.uint64())), day_numbers),
            "row_id": pc.add(
                pc.shift_left(seq, pa.scalar(ROW_BITS, pa.uint64())),
                pa.array(range(first_row, first_row + count), pa.uint64()),
            ),
            "charge_day": pc.cast(day_numbers.cast(pa.int32()), pa.date32()),
        }
        table = custom_columns_as_text(rows)
        for name, column in meta.items():
            table = table.append_column(name, column)
        with self._client_lock:
            self._client.insert_arrow(
                table_of.name,
                table,
                settings={
                    **self._write_settings,
                    "insert_deduplication_token": f"{batch.batch_id}:{part_no}",
                },
            )
        return count

    def staged_count(self, batch: BatchRef) -> int:
        """Rows a batch has staged (its own, not rows a replace copied in)."""
        rows = self._query(
            f"SELECT count() FROM {TABLES[batch.dataset].name} WHERE workspace_id = {{ws:String}}"  # noqa: S608
            " AND batch_seq = {seq:UInt32} AND row_id < {limit:UInt64}",
            {"ws": batch.workspace_id, "seq": batch.batch_seq, "limit": self._copy_base(batch)},
        )
        return int(rows[0][0])

    def staged_prefix(self, batch: BatchRef) -> int | None:
        """How many rows the batch has staged when they are exactly its first ones (row numbers 0 to n - 1),
        else None: an insert spanning several months is one part per month, and a failure part-way through
        can leave a later month's rows without an earlier month's."""
        count, low, high = self._query(
            f"SELECT count(), min(row_id), max(row_id) FROM {TABLES[batch.dataset].name}"  # noqa: S608
            " WHERE workspace_id = {ws:String} AND batch_seq = {seq:UInt32} AND row_id < {limit:UInt64}",
            {"ws": batch.workspace_id, "seq": batch.batch_seq, "limit": self._copy_base(batch)},
        )[0]
        first = batch.batch_seq << ROW_BITS
        if int(count) == 0:
            return 0
        return int(count) if int(low) == first and int(high) == first + int(count) - 1 else None

    def discard_staged(self, batch: BatchRef) -> None:
        """Delete the rows an uncommitted batch has staged, and their rollup rows (nothing can read them: no
        visibility row names them). A committed batch is refused."""
        with self._provider_lock(batch.provider_id):
            committed = self._query(
                "SELECT count() FROM live_day_batches"
                " WHERE workspace_id = {ws:String} AND changed_by = {b:String}",
                {"ws": batch.workspace_id, "b": batch.batch_id},
            )[0][0]
            if int(committed):
                raise ValueError(f"batch {batch.batch_id} is committed: its rows cannot be discarded")
            params = {"ws": batch.workspace_id, "seq": batch.batch_seq}
            own = "workspace_id = {ws:String} AND batch_seq = {seq:UInt32}"
            self._command(f"DELETE FROM {TABLES[batch.dataset].name} WHERE {own}", params)  # noqa: S608
            if batch.dataset is Dataset.COST_AND_USAGE:
                self._command(
                    "DELETE FROM cost_rollup_daily WHERE workspace_id = {ws:String}"  # noqa: S608 - DAY_BITS is ours
                    f" AND bitShiftRight(day_batch, {DAY_BITS}) = {{seq:UInt32}}",
                    params,
                )

    @staticmethod
    def _copy_base(batch: BatchRef) -> int:
        return (batch.batch_seq << ROW_BITS) | COPY_ROW_BASE

    # --------------------------------------------------------------------------------------------- commit

    def commit(
        self, batch: BatchRef, replace: Replace, *, at: datetime | None = None, locked: bool = False
    ) -> ClickHouseCommitOutcome:
        """Make a staged batch live, replacing what `replace` says, in one visibility block written `at`
        (now by default; `focusbase migrate-storage` gives the batch's original commit time).

        ProviderDeleted when the provider is tombstoned; ReplicaLagging when a replica lacks staged rows.
        `locked`: the caller holds the provider's writer lock already (the ingest store does, around its
        catalog steps).
        """
        if not TABLES[batch.dataset].by_day and replace.kind not in COMMITMENT_KINDS:
            raise ValueError(f"{batch.dataset} batches commit with {' or '.join(COMMITMENT_KINDS)}")
        with contextlib.nullcontext() if locked else self._provider_lock(batch.provider_id):
            if self.tombstone(batch.workspace_id, batch.provider_id) is not None:
                raise ProviderDeleted(batch.provider_id)
            return self._commit(batch, replace, at or datetime.now(UTC))

    def _live_day_batches(
        self, workspace_id: str, provider_id: str, dataset: Dataset
    ) -> list[tuple[int, date, str]]:
        rows = self._query(
            "SELECT day_batch, argMax(charge_day, commit_seq), argMax(batch_id, commit_seq)"
            " FROM live_day_batches WHERE workspace_id = {ws:String} AND provider_id = {p:String}"
            " AND dataset = {d:String}"
            " GROUP BY day_batch HAVING argMax(is_deleted, commit_seq) = 0 ORDER BY day_batch",
            {"ws": workspace_id, "p": provider_id, "d": dataset.value},
        )
        return [(int(r[0]), r[1], str(r[2])) for r in rows]

    def _next_commit_seq(self, workspace_id: str, provider_id: str) -> int:
        # Versions only need to increase per day_batch, and a day_batch belongs to one provider, whose
        # writer lock the caller holds.
        rows = self._query(
            "SELECT max(commit_seq) FROM live_day_batches WHERE workspace_id = {ws:String}"
            " AND provider_id = {p:String}",
            {"ws": workspace_id, "p": provider_id},
        )
        return int(rows[0][0] or 0) + 1

    def _replaced_predicate(self, batch: BatchRef, replace: Replace, params: dict[str, Any]) -> str | None:
        """SQL true for a live row of the provider that this commit replaces (never true for NULL).

        The batch's days and months are read once, before any survivor is copied into the batch.
        """
        own = {"ws": batch.workspace_id, "seq": batch.batch_seq}
        if replace.kind == "append":
            return None
        if replace.kind == "replace_all":
            return "1"
        if replace.kind == "replace_days":
            params["days"] = [
                r[0]
                for r in self._query(
                    "SELECT DISTINCT charge_day FROM cost_rows WHERE workspace_id = {ws:String}"
                    " AND batch_seq = {seq:UInt32}",
                    own,
                )
            ]
            return "charge_day IN {days:Array(Date)}"
        if replace.kind == "replace_range":
            params["start"], params["end"] = replace.start, replace.end
            return (
                "ifNull(\"ChargePeriodStart\" >= {start:DateTime64(6, 'UTC')}"
                " AND \"ChargePeriodStart\" < {end:DateTime64(6, 'UTC')}, 0)"
            )
        params["months"] = [
            r[0]
            for r in self._query(
                'SELECT DISTINCT toStartOfMonth("BillingPeriodStart") FROM cost_rows WHERE workspace_id'
                ' = {ws:String} AND batch_seq = {seq:UInt32} AND "BillingPeriodStart" IS NOT NULL',
                own,
            )
        ]
        return 'ifNull(toStartOfMonth("BillingPeriodStart") IN {months:Array(Date)}, 0)'

    def _commit(self, batch: BatchRef, replace: Replace, at: datetime) -> ClickHouseCommitOutcome:
        params: dict[str, Any] = {"ws": batch.workspace_id, "p": batch.provider_id, "seq": batch.batch_seq}
        name = TABLES[batch.dataset].name
        own = f"SELECT DISTINCT day_batch, charge_day FROM {name} WHERE workspace_id = {{ws:String}}"  # noqa: S608
        own += " AND batch_seq = {seq:UInt32} ORDER BY day_batch"
        new_days = self._query(own, params)
        live = {
            day_batch: (day, batch_id)
            for day_batch, day, batch_id in self._live_day_batches(
                batch.workspace_id, batch.provider_id, batch.dataset
            )
        }
        predicate = self._replaced_predicate(batch, replace, params)
        retired: list[int] = []
        replaced_sums: dict[str, dict[str, Any]] = {}
        superseded: list[str] = []
        if predicate is not None and live:
            params["live"] = sorted(live)
            scope = "workspace_id = {ws:String} AND day_batch IN {live:Array(UInt64)}"
            hits = self._query(
                f"SELECT day_batch, countIf({predicate}), count() FROM {name} WHERE {scope}"  # noqa: S608
                f" GROUP BY day_batch HAVING countIf({predicate}) > 0 ORDER BY day_batch",
                params,
            )
            retired = [int(r[0]) for r in hits]
            partial = [int(r[0]) for r in hits if int(r[1]) < int(r[2])]
            if retired:
                params["retired"] = retired
                where = (
                    f"workspace_id = {{ws:String}} AND day_batch IN {{retired:Array(UInt64)}} AND {predicate}"
                )
                replaced_sums = self._sums(where, params, batch.dataset)
                superseded = sorted({live[d][1] for d in retired})
            if partial:
                self._copy_survivors(batch, partial, predicate, params)
        if not new_days and not retired:
            return ClickHouseCommitOutcome(0, {}, 0, {}, [], replicas_verified=0)
        copied = self._query(own, params)
        # Summed before the flip: a batch whose sums leave DECIMAL(38, 12) never becomes visible.
        sums = self._sums(
            "workspace_id = {ws:String} AND batch_seq = {seq:UInt32} AND row_id < {limit:UInt64}",
            {**params, "limit": self._copy_base(batch)},
            batch.dataset,
        )
        # Every replica must hold the batch's rows (its own and the survivors copied in) before it can
        # receive the flip: rows and visibility replicate through different queues.
        stored = self._query(
            f"SELECT count() FROM {name} WHERE workspace_id = {{ws:String}}"  # noqa: S608
            " AND batch_seq = {seq:UInt32}",
            params,
        )
        verified = self.replicas.verify(
            name, batch.workspace_id, batch.batch_seq, batch.batch_id, stored[0][0]
        )
        commit_seq = self._next_commit_seq(batch.workspace_id, batch.provider_id)
        dataset = batch.dataset.value
        ws, provider = batch.workspace_id, batch.provider_id
        block = [
            (ws, provider, day, int(day_batch), batch.batch_id, batch.batch_id, commit_seq, 0, dataset)
            for day_batch, day in copied
        ] + [
            (ws, provider, live[d][0], d, live[d][1], batch.batch_id, commit_seq, 1, dataset) for d in retired
        ]
        self._flip(block, token=f"commit:{batch.batch_id}", at=at)
        return ClickHouseCommitOutcome(
            rows=sum(int(e["rows"]) for e in sums.values()),
            sums=sums,
            replaced_rows=sum(int(e["rows"]) for e in replaced_sums.values()),
            replaced_sums=replaced_sums,
            superseded_batches=superseded,
            replicas_verified=verified,
        )

    def _copy_survivors(
        self, batch: BatchRef, day_batches: list[int], predicate: str, params: dict[str, Any]
    ) -> None:
        """Copy the rows a partly replaced day-batch keeps into the new batch, so visibility stays whole-day.

        Deduplicated per source day-batch, so a commit retried after a crash copies nothing twice.
        """
        columns = [
            str(r[0])
            for r in self._query(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'cost_rows'"
                " AND default_kind != 'MATERIALIZED' ORDER BY position"
            )
        ]
        derived = {
            "batch_seq": "{seq:UInt32}",
            "day_batch": f"bitOr(bitShiftLeft(toUInt64({{seq:UInt32}}), {DAY_BITS}),"
            " toUInt64(dateDiff('day', toDate('1970-01-01'), charge_day)))",
            "row_id": "{base:UInt64} + {offset:UInt64} + rowNumberInAllBlocks()",
        }
        select = ", ".join(derived.get(name, f'"{name}"') for name in columns)
        names = ", ".join(f'"{name}"' for name in columns)
        offset = 0
        for day_batch in day_batches:
            count = int(
                self._query(
                    f"SELECT count() FROM cost_rows WHERE workspace_id = {{ws:String}}"  # noqa: S608
                    f" AND day_batch = {{db:UInt64}} AND NOT ({predicate})",
                    {**params, "db": day_batch},
                )[0][0]
            )
            with self._client_lock:
                self._client.command(
                    f"INSERT INTO cost_rows ({names}) SELECT {select} FROM (SELECT * FROM cost_rows"  # noqa: S608
                    f" WHERE workspace_id = {{ws:String}} AND day_batch = {{db:UInt64}} AND NOT ({predicate})"
                    " ORDER BY row_id)",
                    parameters={**params, "db": day_batch, "base": self._copy_base(batch), "offset": offset},
                    settings={
                        **self._write_settings,
                        "insert_deduplication_token": f"{batch.batch_id}:copy:{day_batch}",
                    },
                )
            offset += count

    def _flip(self, block: list[tuple[Any, ...]], *, token: str, at: datetime) -> None:
        """Insert visibility rows as one block, written `at`: the atomic step of a commit or revert."""
        with self._client_lock:
            self._client.insert(
                "live_day_batches",
                [(*row, at) for row in block],
                column_names=[
                    "workspace_id",
                    "provider_id",
                    "charge_day",
                    "day_batch",
                    "batch_id",
                    "changed_by",
                    "commit_seq",
                    "is_deleted",
                    "dataset",
                    "changed_at",
                ],
                settings={**self._write_settings, "insert_deduplication_token": token},
            )

    # --------------------------------------------------------------------------------------------- revert

    def revert(self, batch: BatchRef, *, at: datetime | None = None, locked: bool = False) -> RevertOutcome:
        """Undo a batch's commit in one visibility block: its day-batches retired, the ones it retired back.

        RevertRefused as DuckDB's revert check refuses (`_revert_check`); ProviderDeleted when the provider
        is tombstoned. `locked` as for `commit`.
        """
        with contextlib.nullcontext() if locked else self._provider_lock(batch.provider_id):
            if self.tombstone(batch.workspace_id, batch.provider_id) is not None:
                raise ProviderDeleted(batch.provider_id)
            params: dict[str, Any] = {
                "ws": batch.workspace_id,
                "p": batch.provider_id,
                "b": batch.batch_id,
                "d": batch.dataset.value,
            }
            scope = "workspace_id = {ws:String} AND provider_id = {p:String} AND dataset = {d:String}"
            # Read from what merges keep: a ReplacingMergeTree may drop every version of a day-batch but its
            # newest, so the batch's own day-batches are found by owner, not by the versions its commit wrote.
            # The ones it retired still have that retirement as their newest version (only this revert
            # changes them); the visibility table must never be merged with CLEANUP for this to hold.
            committed = self._query(
                f"SELECT max(commit_seq) FROM live_day_batches WHERE {scope} AND changed_by = {{b:String}}",  # noqa: S608
                params,
            )
            own = [
                (int(db), day)
                for db, day in self._query(
                    f"SELECT day_batch, any(charge_day) FROM live_day_batches WHERE {scope}"  # noqa: S608
                    " AND batch_id = {b:String} GROUP BY day_batch ORDER BY day_batch",
                    params,
                )
            ]
            replaced = [
                (int(db), day, str(owner))
                for db, day, owner in self._query(
                    f"SELECT day_batch, argMax(charge_day, commit_seq), argMax(batch_id, commit_seq)"  # noqa: S608
                    f" FROM live_day_batches WHERE {scope} GROUP BY day_batch"
                    " HAVING argMax(changed_by, commit_seq) = {b:String}"
                    " AND argMax(is_deleted, commit_seq) = 1"
                    " ORDER BY day_batch",
                    params,
                )
            ]
            if not own and not replaced:
                raise RevertRefused(f"batch {batch.batch_id} has no commit to revert")
            # The newest version its commit wrote: kept whenever the commit retired anything (see above).
            commit_seq = int(committed[0][0] or 0)
            self._revert_check(batch, commit_seq, [db for db, _ in own], {d for _, d, _ in replaced})
            self._pruned_check(batch, [db for db, _, _ in replaced])
            next_seq = self._next_commit_seq(batch.workspace_id, batch.provider_id)
            marker = f"revert:{batch.batch_id}"
            ws, provider, dataset = batch.workspace_id, batch.provider_id, batch.dataset.value
            block = [(ws, provider, day, db, batch.batch_id, marker, next_seq, 1, dataset) for db, day in own]
            block += [
                (ws, provider, day, db, owner, marker, next_seq, 0, dataset) for db, day, owner in replaced
            ]
            self._flip(block, token=marker, at=at or datetime.now(UTC))
            counts = self._query(
                "SELECT countIf(day_batch IN {r:Array(UInt64)}), countIf(day_batch IN {t:Array(UInt64)})"  # noqa: S608
                f" FROM {TABLES[batch.dataset].name} WHERE workspace_id = {{ws:String}}",
                {"ws": ws, "r": [db for db, _, _ in replaced], "t": [db for db, _ in own]},
            )
            owners = sorted({owner for _, _, owner in replaced})
            return RevertOutcome(int(counts[0][0]), int(counts[0][1]), owners)

    def _revert_check(self, batch: BatchRef, commit_seq: int, own: list[int], days: set[date]) -> None:
        """Refuse a revert where DuckDB's `cost_rows.revert_check` does, in day-batch terms.

        `own`: the batch's day-batches; `days`: the days of the day-batches its commit retired. Refused when
        the batch was reverted already; when a later commit replaced some of its rows (one of its
        day-batches is no longer live); or when what it replaced would come back on a day where a later
        batch has live rows (they would be counted twice). A batch that replaced nothing can be reverted
        whatever came later, as in DuckDB. Stricter than DuckDB in one case: a later replace_range copies
        the batch's surviving rows of a partly covered day into itself, so the batch's day-batch is retired
        although DuckDB would still count those rows as the batch's own.
        """
        if self._query(
            "SELECT count() FROM live_day_batches WHERE workspace_id = {ws:String}"
            " AND changed_by = {r:String}",
            {"ws": batch.workspace_id, "r": f"revert:{batch.batch_id}"},
        )[0][0]:
            raise RevertRefused(f"batch {batch.batch_id} was reverted already")
        live = {
            int(db): (day, owner, int(seq))
            for db, day, owner, seq in self._query(
                "SELECT day_batch, argMax(charge_day, commit_seq), argMax(batch_id, commit_seq),"
                " max(commit_seq) FROM live_day_batches WHERE workspace_id = {ws:String}"
                " AND provider_id = {p:String} AND dataset = {d:String}"
                " GROUP BY day_batch HAVING argMax(is_deleted, commit_seq) = 0",
                {"ws": batch.workspace_id, "p": batch.provider_id, "d": batch.dataset.value},
            )
        }
        replaced = [db for db in own if db not in live]
        if replaced:
            raise RevertRefused(
                f"{len(replaced)} day-batches of batch {batch.batch_id} were replaced by later batches;"
                " revert those first"
            )
        later = [
            db
            for db, (day, owner, seq) in live.items()
            if owner != batch.batch_id and day in days and seq > commit_seq
        ]
        if later:
            raise RevertRefused(
                f"later batches stored rows on the days batch {batch.batch_id} replaced"
                f" ({len(later)} day-batches); revert those first"
            )

    def close(self) -> None:
        with self._client_lock:
            self._client.close()
