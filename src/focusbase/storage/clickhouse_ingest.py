"""The ingest store of the scale-out profile: batches in PostgreSQL, their rows in ClickHouse.

There is no transaction spanning both databases, so every step is ordered so that a crash anywhere leaves
something recovery finishes (docs/scaling.md, "Commit protocol"):

* A part is staged into ClickHouse first (invisible: no visibility row names it; a retried part is
  deduplicated by its token), then counted on the batch in PostgreSQL. A batch closed meanwhile gets its
  staged rows discarded again.
* A commit runs under the provider's writer lock (a PostgreSQL session advisory lock, freed by the server
  if the process dies): record `commit_started_at` with the batch's counts, flip in ClickHouse (one
  visibility block), then record the outcome and the replayed response in one PostgreSQL transaction.
  A batch found open with `commit_started_at` set and its provider's lock free was cut off: the flip in
  ClickHouse says whether it committed, and it is finished either way (`recover`).
* A push's batch names the process carrying it (`leased_by`); each process holds an advisory lock of its own
  for its whole life (one connection). A push batch open whose process's lock is free belongs to a process
  that died, and is failed by the next Idempotency-Key retry or sweep.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from focusbase.focus import Dataset
from focusbase.storage import batches as records
from focusbase.storage import cost_rows
from focusbase.storage import providers as provider_rows
from focusbase.storage.catalog import Catalog, split_statements
from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_types import BatchRef, RevertRefused
from focusbase.storage.cost_rows import CUSTOM_COLUMN, CommitOutcome, Prepared, Replace, one_chunk
from focusbase.storage.ingest_store import (
    OPEN,
    BatchClosed,
    Record,
    RevertConflict,
    Reverted,
    answers,
    committed_fields,
)
from focusbase.storage.migrations import apply_all
from focusbase.storage.postgres import PostgresCatalog
from focusbase.storage.warehouse import Warehouse
from focusbase.storage.warehouse_copy import _as_utc, _focus_columns

log = logging.getLogger(__name__)
MIGRATIONS = "postgres_batches"
INTERRUPTED = "interrupted: the server handling it stopped"
# What a commit writes beyond the batch's counts; recovery writes these from ClickHouse's outcome.
COMMIT_FIELDS = ("status", "line_items_created", "sums", "replaced", "committed_at", "expires_at")
_PENDING = CommitOutcome(0, {}, 0, {}, [])


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ClickHouseIngestStore:
    """`IngestStore` over a PostgreSQL catalog (batches, locks) and a ClickHouse warehouse (rows)."""

    # A part's answer must mean its rows are in ClickHouse: the commit may come through another replica.
    synchronous_parts = True
    single_pass = False  # the single pass is the embedded warehouse's own INSERT ... SELECT
    # ClickHouse's Date, the rows' charge_day and the day part of their keys.
    charge_days: tuple[date, date] | None = (date(1970, 1, 1), date(2149, 6, 6))

    def __init__(self, catalog: PostgresCatalog, warehouse: ClickHouseWarehouse, shaper: Warehouse) -> None:
        self.catalog = catalog
        self.ch = warehouse
        # An empty DuckDB of the embedded warehouse's schema: casts validated text into the stored types with
        # the embedded warehouse's own SQL, so both warehouses store the same values.
        self.shaper = shaper
        # This process's lease: held as long as it lives (the server frees it when the process dies).
        self.owner = f"process:{uuid.uuid4().hex}"
        self._alive = contextlib.ExitStack()
        if not self._alive.enter_context(catalog.writer_lock(self.owner, wait=False)):
            raise RuntimeError(f"the lease {self.owner} is held by another process")
        self.migrate()

    def migrate(self) -> list[str]:
        return migrate_batches(self.catalog, self.ch)

    # ----------------------------------------------------------------------------------------- History

    def get(self, batch_id: str, workspace_id: str | None = None) -> Record | None:
        with self.catalog.read() as conn:
            return records.get(conn, batch_id, workspace_id)

    def list_for_provider(
        self, workspace_id: str, provider_id: str, *, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[Record]:
        with self.catalog.read() as conn:
            return records.list_for_provider(conn, workspace_id, provider_id, limit=limit, after=after)

    def open_batch_ids(self, *, created_before: datetime | None = None) -> list[str]:
        with self.catalog.read() as conn:
            return records.open_batch_ids(conn, created_before=created_before)

    def update(self, batch_id: str, fields: Record) -> None:
        with self.catalog.transaction() as tx:
            records.update(tx, batch_id, fields)

    def update_open(self, batch_id: str, fields: Callable[[Record], Record]) -> bool:
        with self.catalog.transaction() as tx:
            current = records.get(tx, batch_id)
            if current is None or current["status"] not in OPEN:
                return False
            records.update(tx, batch_id, fields(current))
        return True

    def create(self, record: Record, *, replay_since: datetime | None = None) -> Record:
        abandoned: Record | None = None
        with self.catalog.transaction() as tx:
            key = record.get("idempotency_key")
            if replay_since is not None and key:
                found = records.find_idempotent(
                    tx, record["workspace_id"], record["provider_id"], key, replay_since
                )
                if found is not None and found["status"] in OPEN and self._abandoned(tx, found["id"]):
                    records.update(tx, found["id"], _interrupted())
                    abandoned, found = found, None
                if found is not None and answers(found, record):
                    return found
            records.insert(tx, record)
            if record["source"] == "push":  # one request carries it from creation to its answer
                tx.execute("UPDATE batches SET leased_by = ? WHERE id = ?", (self.owner, record["id"]))
            stored = records.get(tx, record["id"])
        if abandoned is not None:
            self._discard(abandoned["id"])
        assert stored is not None
        return stored

    # ------------------------------------------------------------------------------------------- rows

    def stage(
        self, batch_id: str, rows: Prepared, first_row: int, fields: Callable[[Record], Record]
    ) -> bool:
        found = self._record(batch_id)
        if found is None or found[0]["status"] not in OPEN:
            return False
        record, ref = found
        # Row numbers follow the part's first input row, so parts never collide and a resent part is
        # the same block (deduplicated by its token, the part's first row).
        self.ch.stage(ref, first_row, first_row - 1, self._shape(record, rows))
        if not self.update_open(batch_id, fields):
            self._discard(batch_id)  # closed while it was staged: its failure may have discarded before us
            return False
        return True

    def commit(
        self,
        batch_id: str,
        rows: Prepared | None,
        fields: Callable[[CommitOutcome], Record],
        *,
        keep: int,
        response: Callable[[Record], Record] | None = None,
    ) -> Record:
        found = self._record(batch_id)
        if found is None or found[0]["status"] not in OPEN:
            raise BatchClosed(found[0] if found else None)
        record, ref = found
        if rows is not None:
            self.ch.stage(ref, 1, 0, self._shape(record, rows))
        replace = Replace(record["mode"], record["window_start"], record["window_end"])
        with self.catalog.writer_lock(record["provider_id"]):
            pending = {k: v for k, v in fields(_PENDING).items() if k not in COMMIT_FIELDS}
            with self.catalog.transaction() as tx:
                current = records.get(tx, batch_id)
                if current is None or current["status"] not in OPEN:
                    raise BatchClosed(current)
                records.update(tx, batch_id, pending)
                tx.execute("UPDATE batches SET commit_started_at = ? WHERE id = ?", (_now(), batch_id))
            outcome = self.ch.commit(ref, replace, locked=True)
            committed = self._record_commit(ref, fields(outcome), outcome, response)
        if outcome.replaced_rows:
            self.ch.prune(ref.workspace_id, ref.provider_id, keep, ref.dataset)
        return committed

    def _record_commit(
        self,
        ref: BatchRef,
        fields: Record,
        outcome: CommitOutcome,
        response: Callable[[Record], Record] | None,
    ) -> Record:
        """The catalog's half of a commit whose flip is written: the batch's outcome, its replayed answer
        and the batches it superseded wholly, in one transaction."""
        live = self.ch.batches_with_live_rows(ref.workspace_id, outcome.superseded_batches, ref.dataset)
        gone = [b for b in outcome.superseded_batches if b not in live]
        with self.catalog.transaction() as tx:
            records.update(tx, ref.batch_id, fields)
            tx.execute("UPDATE batches SET commit_started_at = NULL WHERE id = ?", (ref.batch_id,))
            for other in gone:
                tx.execute(
                    "UPDATE batches SET status = 'superseded' WHERE id = ? AND status = 'committed'", (other,)
                )
            committed = records.get(tx, ref.batch_id)
            assert committed is not None
            if response is not None:
                committed["response"] = response(committed)
                records.update(tx, ref.batch_id, {"response": committed["response"]})
        return committed

    def fail(self, batch_id: str, fields: Record) -> bool:
        found = self._record(batch_id)
        if found is None or found[0]["status"] not in OPEN:
            return False
        record, ref = found
        with self.catalog.writer_lock(record["provider_id"]):
            if self.ch.flipped(ref):  # a commit cut off after its flip: it is committed, not failed
                self._finish(ref, record)
                return False
            if not self.update_open(batch_id, lambda _current: {**fields, "expires_at": None}):
                return False
        self._discard(batch_id)
        return True

    def fail_open(
        self, fields: Record, *, created_before: datetime | None = None, skip: Iterable[str] = ()
    ) -> list[str]:
        """Open batches are not one process's: without `created_before` (a server start) only those whose
        process died are finished (`recover`); with it, those past expiry fail as well."""
        failed = self.recover()
        if created_before is None:
            return failed
        skipped = set(skip)
        for batch_id in self.open_batch_ids(created_before=created_before):
            if batch_id not in skipped and self.fail(batch_id, fields):
                failed.append(batch_id)
        return failed

    def recover(self) -> list[str]:
        """Finish what dead processes left: commits cut off (committed or failed by their flip) and pushes
        whose process died (failed). Returns the batches failed."""
        with self.catalog.read() as conn:
            rows = conn.execute(
                "SELECT id, provider_id, commit_started_at IS NOT NULL, leased_by FROM batches WHERE status"
                " IN ('received', 'validating') AND (commit_started_at IS NOT NULL OR leased_by IS NOT NULL)"
            ).fetchall()
        failed = []
        for batch_id, provider_id, committing, owner in rows:
            if committing:
                with self.catalog.writer_lock(provider_id, wait=False) as free:
                    if not free:
                        continue  # a live process is committing it
                    found = self._record(batch_id)
                    if found is None or found[0]["status"] not in OPEN:
                        continue
                    if self.ch.flipped(found[1]):
                        self._finish(found[1], found[0])
                        continue
                if self.fail(batch_id, _interrupted()):
                    failed.append(batch_id)
            elif self._dead(owner) and self.fail(batch_id, _interrupted()):
                failed.append(batch_id)
        return failed

    def _finish(self, ref: BatchRef, record: Record) -> None:
        """Record a commit whose flip is written, its outcome computed again from ClickHouse."""
        from focusbase.ingest.model import Batch, BatchSummary  # the replayed answer is the push's

        outcome = self.ch.commit_outcome(ref)
        fields = committed_fields(outcome, _now())

        def respond(committed: Record) -> Record:
            return {"status": 200, "body": BatchSummary(Batch.from_record(committed)).as_json()}

        self._record_commit(ref, fields, outcome, respond)
        log.warning("batch %s: its commit was cut off after the flip; recorded as committed", ref.batch_id)

    def revert(self, batch_id: str, *, keep: int, fields: Callable[[Reverted], Record]) -> None:
        found = self._record(batch_id)
        assert found is not None
        record, ref = found
        with self.catalog.writer_lock(record["provider_id"]):
            try:
                done = self.ch.revert(ref, locked=True)
            except RevertRefused as refused:
                message = str(refused)
                if "reverted already" not in message:  # else a revert cut off before its record: finish it
                    code = "revert_unavailable" if "no longer kept" in message else "revert_conflict"
                    raise RevertConflict(code, message) from None
                restored, retired, owners = 0, 0, []
            else:
                restored, retired, owners = done.restored_rows, done.retired_rows, done.restored_batches
            with self.catalog.transaction() as tx:
                records.update(tx, batch_id, fields(Reverted(restored, retired)))
                for owner in owners:
                    tx.execute(
                        "UPDATE batches SET status = 'committed' WHERE id = ? AND status = 'superseded'",
                        (owner,),
                    )

    def replaced_periods(self, batch_id: str) -> list[dict[str, Any]]:
        found = self._record(batch_id)
        return [] if found is None else self.ch.replaced_periods(found[1])

    def status_counts(self) -> dict[str, int]:
        with self.catalog.read() as conn:
            rows = conn.execute("SELECT status, count(*) FROM batches GROUP BY status").fetchall()
        return {str(status): int(count) for status, count in rows}

    def ping(self) -> None:
        self.ch.workspaces()  # a query on the visibility table, which every read joins

    # ------------------------------------------------------------------------------- provider deletion

    def stored_row_counts(self, workspace_id: str, provider_id: str) -> dict[str, int]:
        return self.ch.stored_row_counts(workspace_id, provider_id)

    def tombstone_provider(
        self, workspace_id: str, provider_id: str, deleted_at: datetime | None = None
    ) -> provider_rows.Tombstone:
        tombstone = self.ch.delete_provider(workspace_id, provider_id, deleted_at)
        self._fail_provider_batches([provider_id])
        return tombstone

    def unfinished_deletions(self, catalog: Catalog) -> list[provider_rows.Tombstone]:
        states = _catalog_states(catalog)
        found = []
        for workspace_id, provider_id, _at in self.ch.tombstones():
            state = states.get(provider_id)
            if state is not None and state[0] == workspace_id and state[1] is None:
                tombstone = self.ch.tombstone(workspace_id, provider_id)
                if tombstone is not None:
                    found.append(tombstone)
        return found

    def delete_leftovers(self) -> int:
        dead = [provider_id for _ws, provider_id, _at in self.ch.tombstones()]
        if not dead:
            return 0
        self._fail_provider_batches(dead)
        return self.ch.purge_deleted()

    def untombstoned_deletions(self, catalog: Catalog) -> list[tuple[str, str, str]]:
        tombstoned = {provider_id for _ws, provider_id, _at in self.ch.tombstones()}
        return [
            (workspace_id, provider_id, deleted_at)
            for provider_id, (workspace_id, deleted_at) in sorted(_catalog_states(catalog).items())
            if deleted_at is not None and provider_id not in tombstoned
        ]

    def tombstone_deleted(
        self, workspace_id: str, provider_id: str, deleted_at: str
    ) -> provider_rows.Tombstone:
        try:
            at: datetime | None = datetime.fromisoformat(deleted_at).astimezone(UTC)
        except ValueError:
            at = None
        return self.tombstone_provider(workspace_id, provider_id, at)

    # --------------------------------------------------------------------------------------- plumbing

    def _record(self, batch_id: str) -> tuple[Record, BatchRef] | None:
        with self.catalog.read() as conn:
            record = records.get(conn, batch_id)
            if record is None:
                return None
            seq = conn.execute("SELECT batch_seq FROM batches WHERE id = ?", (batch_id,)).fetchone()[0]
        ref = BatchRef(
            record["workspace_id"], record["provider_id"], batch_id, int(seq), Dataset(record["dataset"])
        )
        return record, ref

    def _shape(self, record: Record, rows: Prepared) -> pa.Table:
        """The stored columns of prepared rows, cast by the embedded warehouse's SQL (`select_sql`)."""
        dataset = Dataset(record["dataset"])
        with self.shaper.cursor() as cur:
            sql, params = cost_rows.select_sql(
                cur,
                dataset,
                rows.fills,
                has_custom=CUSTOM_COLUMN in rows.source.column_names,
                row_seq="0",
                superseded_by=None,
                workspace_id=record["workspace_id"],
                provider_id=record["provider_id"],
                batch_id=record["id"],
            )
            names = cost_rows.table_columns(cur, cost_rows.TABLES[dataset].rows)
            kinds = dict(_focus_columns(cur, dataset))
            cur.register("__source", one_chunk(rows.source))
            try:
                table = cur.sql(sql, params=params).to_arrow_table()
            finally:
                cur.unregister("__source")
        # The SELECT gives the stored columns in table order, unnamed; ClickHouse takes the FOCUS ones.
        table = table.rename_columns(names).select(list(kinds))
        for index, field in enumerate(table.schema):
            if kinds[field.name] == "JSON" and not pa.types.is_string(field.type):  # JSON as its text
                table = table.set_column(index, field.name, table.column(index).cast(pa.string()))
        return _as_utc(table)

    def _discard(self, batch_id: str) -> None:
        found = self._record(batch_id)
        if found is None:
            return
        try:
            self.ch.discard_staged(found[1])
        except Exception:  # the rows are invisible either way; a later sweep may try again
            log.exception("could not discard the staged rows of batch %s", batch_id)

    def _fail_provider_batches(self, provider_ids: list[str]) -> None:
        for provider_id in provider_ids:
            with self.catalog.transaction() as tx:
                tx.execute(
                    "UPDATE batches SET status = 'failed', failure_reason = ?, updated_at = ?,"
                    " expires_at = NULL WHERE provider_id = ? AND status IN ('received', 'validating')",
                    (provider_rows.FAILURE_REASON, _now(), provider_id),
                )

    def _abandoned(self, tx: Any, batch_id: str) -> bool:
        row = tx.execute(
            "SELECT leased_by, commit_started_at FROM batches WHERE id = ?", (batch_id,)
        ).fetchone()
        return bool(row and row[1] is None and self._dead(row[0]))

    def _dead(self, owner: str | None) -> bool:
        """Whether the process that carried a push is gone (its lease lock is free)."""
        if owner is None or owner == self.owner:
            return False
        with self.catalog.writer_lock(owner, wait=False) as free:
            return free

    def close(self) -> None:
        self._alive.close()


def migrate_batches(catalog: Catalog, warehouse: ClickHouseWarehouse) -> list[str]:
    """Create or update the catalog's `batches` table of the ClickHouse warehouse, and move its batch numbers
    past every batch the warehouse holds."""
    with catalog.transaction() as tx:  # the catalog's writer lock: replicas apply them once
        tx.execute(
            "CREATE TABLE IF NOT EXISTS batch_migrations ("
            "number BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        applied = {int(r[0]) for r in tx.execute("SELECT number FROM batch_migrations").fetchall()}

        def run(migration: Any) -> None:
            for statement in split_statements(migration.sql):
                tx.execute(statement)
            tx.execute(
                "INSERT INTO batch_migrations VALUES (?, ?, ?)", (migration.number, migration.name, _now())
            )

        done = apply_all(MIGRATIONS, applied, run)
        # Batch numbers key the rows in ClickHouse: a new batch must never reuse one that a copy
        # (`focusbase migrate-storage`) or an earlier catalog gave out. Under the catalog's writer lock, as
        # every batch creation is, so no number is handed out meanwhile.
        used = max(warehouse.batch_seqs().values(), default=0)
        tx.execute(
            "SELECT setval(pg_get_serial_sequence('batches', 'batch_seq'),"
            " greatest(?, (SELECT coalesce(max(batch_seq), 0) FROM batches), 1),"
            " ? > 0 OR EXISTS (SELECT 1 FROM batches))",
            (used, used),
        )
        return done


def _interrupted() -> Record:
    return {"status": "failed", "failure_reason": INTERRUPTED, "updated_at": _now(), "expires_at": None}


def _catalog_states(catalog: Catalog) -> dict[str, tuple[str, str | None]]:
    with catalog.read() as conn:
        rows = conn.execute("SELECT id, workspace_id, deleted_at FROM providers").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}
