"""Where ingest keeps batches (the History) and writes their rows: the operations behind the batch service.

`IngestStore` is what `ingest.batches`, `ingest.push`, `ingest.revert`, the ingest lifecycle and provider
deletion call. Each method is one atomic step of a batch's life, so each warehouse can keep it atomic its own
way: `DuckDBIngestStore` runs each in one DuckDB transaction holding the batch's row and its rows together
(the embedded profile), `storage/clickhouse_ingest.py` keeps batches in PostgreSQL and rows in ClickHouse and
orders its writes so that a crash at any point is recovered (the scale-out profile).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from focusbase.focus import Dataset
from focusbase.storage import batches as records
from focusbase.storage import cost_rows, health, restatements
from focusbase.storage import providers as provider_rows
from focusbase.storage.catalog import Catalog
from focusbase.storage.cost_rows import CommitOutcome, Prepared, Replace
from focusbase.storage.warehouse import Warehouse

OPEN = records.OPEN_STATUSES
Record = dict[str, Any]
# Bounded set of open batches whose staged parts are not summed into rollup pre-aggregates (see
# rollups.stage_part); forgetting an id costs time only (the commit then recomputes from the rows).
_UNSUMMED_MAX = 10_000


def committed_fields(outcome: CommitOutcome, at: datetime) -> Record:
    """What a commit records on its batch: status, counts, sums and what it replaced, committed `at`."""
    return {
        "status": "committed",
        "line_items_created": outcome.rows,
        "sums": outcome.sums,
        "replaced": {
            "rows": outcome.replaced_rows,
            "sums": outcome.replaced_sums,
            "batches": outcome.superseded_batches,
        },
        "committed_at": at,
        "updated_at": at,
        "expires_at": None,
    }


class BatchClosed(Exception):
    """The batch is no longer open (or gone): `record` is what it is now, or None."""

    def __init__(self, record: Record | None) -> None:
        super().__init__(record["status"] if record else "gone")
        self.record = record


class RevertConflict(Exception):
    """A revert refused: `code` is revert_conflict (later data depends on it) or revert_unavailable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Reverted:
    restored: int
    retired: int


class IngestStore(Protocol):
    """Batches and their rows, one atomic step at a time."""

    # Whether a part must be in the warehouse before it is answered (the commit may come to another
    # process), and whether a clean CSV file may be staged by the embedded warehouse's single pass.
    synchronous_parts: bool
    single_pass: bool
    # The first and last charge day the warehouse can store, or None without a bound.
    charge_days: tuple[date, date] | None

    # ----------------------------------------------------------------------------------------- History
    def get(self, batch_id: str, workspace_id: str | None = None) -> Record | None: ...

    def list_for_provider(
        self, workspace_id: str, provider_id: str, *, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[Record]: ...

    def create(self, record: Record, *, replay_since: datetime | None = None) -> Record:
        """Insert a new batch; with `replay_since`, the batch that used the record's Idempotency-Key for the
        provider since then is answered instead when there is one (found and created atomically)."""
        ...

    def update(self, batch_id: str, fields: Record) -> None: ...

    def open_batch_ids(self, *, created_before: datetime | None = None) -> list[str]: ...

    # ------------------------------------------------------------------------------------------- rows
    def update_open(self, batch_id: str, fields: Callable[[Record], Record]) -> bool:
        """Set `fields(current record)` on an open batch; False when it is not open."""
        ...

    def stage(
        self, batch_id: str, rows: Prepared, first_row: int, fields: Callable[[Record], Record]
    ) -> bool:
        """Stage one part of an open batch and set `fields(current record)` on it; False (nothing kept)
        when the batch was closed meanwhile."""
        ...

    def commit(
        self,
        batch_id: str,
        rows: Prepared | None,
        fields: Callable[[CommitOutcome], Record],
        *,
        keep: int,
        response: Callable[[Record], Record] | None = None,
    ) -> Record:
        """Make the batch's rows (staged, or `rows`) live, replacing what its mode says, set
        `fields(outcome)`, prune versions beyond `keep`, and with `response` store `response(committed)` as
        its replayed answer. BatchClosed when it is not open; ProviderDeleted when its provider is gone."""
        ...

    def fail(self, batch_id: str, fields: Record) -> bool:
        """Close an open batch with `fields` (status failed) and drop its staged rows; False if not open."""
        ...

    def fail_open(
        self, fields: Record, *, created_before: datetime | None = None, skip: Iterable[str] = ()
    ) -> list[str]:
        """Fail every open batch (created before a time, except `skip`); their staged rows go."""
        ...

    def revert(self, batch_id: str, *, keep: int, fields: Callable[[Reverted], Record]) -> None:
        """Restore what a committed batch replaced and retire its rows. RevertConflict when refused."""
        ...

    def replaced_periods(self, batch_id: str) -> list[dict[str, Any]]:
        """Per billing month and currency: the rows and BilledCost a committed batch replaced."""
        ...

    def status_counts(self) -> dict[str, int]:
        """Batches per current status (the server's metrics)."""
        ...

    def ping(self) -> None:
        """Raise unless the warehouse answers a query on its migrated tables (readiness)."""
        ...

    # ------------------------------------------------------------------------------- provider deletion
    def stored_row_counts(self, workspace_id: str, provider_id: str) -> dict[str, int]:
        """Rows a provider has stored, every version, per dataset (cost, contractCommitment)."""
        ...

    def tombstone_provider(
        self, workspace_id: str, provider_id: str, deleted_at: datetime | None = None
    ) -> provider_rows.Tombstone: ...

    def unfinished_deletions(self, catalog: Catalog) -> list[provider_rows.Tombstone]: ...

    def delete_leftovers(self) -> int: ...

    def untombstoned_deletions(self, catalog: Catalog) -> list[tuple[str, str, str]]: ...

    def tombstone_deleted(
        self, workspace_id: str, provider_id: str, deleted_at: str
    ) -> provider_rows.Tombstone: ...


class DuckDBIngestStore:
    """The embedded profile: every step is one DuckDB transaction over `batches` and the rows."""

    synchronous_parts = False
    single_pass = True
    charge_days: tuple[date, date] | None = None

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._unsummed: dict[str, None] = {}  # touched by the stager thread only

    def get(self, batch_id: str, workspace_id: str | None = None) -> Record | None:
        with self.warehouse.cursor() as cur:
            return records.get(cur, batch_id, workspace_id)

    def list_for_provider(
        self, workspace_id: str, provider_id: str, *, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[Record]:
        with self.warehouse.cursor() as cur:
            return records.list_for_provider(cur, workspace_id, provider_id, limit=limit, after=after)

    def create(self, record: Record, *, replay_since: datetime | None = None) -> Record:
        with self.warehouse.transaction() as cur:
            key = record.get("idempotency_key")
            if replay_since is not None and key:
                found = records.find_idempotent(
                    cur, record["workspace_id"], record["provider_id"], key, replay_since
                )
                if found is not None and answers(found, record):
                    return found
            records.insert(cur, record)
            stored = records.get(cur, record["id"])
        assert stored is not None
        return stored

    def update(self, batch_id: str, fields: Record) -> None:
        with self.warehouse.transaction() as cur:
            records.update(cur, batch_id, fields)

    def open_batch_ids(self, *, created_before: datetime | None = None) -> list[str]:
        with self.warehouse.cursor() as cur:
            return records.open_batch_ids(cur, created_before=created_before)

    def update_open(self, batch_id: str, fields: Callable[[Record], Record]) -> bool:
        with self.warehouse.transaction() as cur:
            current = records.get(cur, batch_id)
            if current is None or current["status"] not in OPEN:
                return False
            records.update(cur, batch_id, fields(current))
        return True

    def stage(
        self, batch_id: str, rows: Prepared, first_row: int, fields: Callable[[Record], Record]
    ) -> bool:
        with self.warehouse.transaction() as cur:
            current = records.get(cur, batch_id)
            if current is None or current["status"] not in OPEN:
                return False
            dataset = Dataset(current["dataset"])
            cost_rows.insert(
                cur,
                dataset,
                rows,
                staged=True,
                workspace_id=current["workspace_id"],
                provider_id=current["provider_id"],
                batch_id=batch_id,
            )
            # Summed now, off the commit, so that the commit only re-groups the batch's sums.
            last = first_row + rows.rows - 1
            if batch_id not in self._unsummed and not cost_rows.stage_rollup(
                cur, dataset, batch_id, first_row, last, rows.rows
            ):
                self._unsummed[batch_id] = None
                while len(self._unsummed) > _UNSUMMED_MAX:
                    del self._unsummed[next(iter(self._unsummed))]
            records.update(cur, batch_id, fields(current))
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
        with self.warehouse.transaction() as cur:
            current = records.get(cur, batch_id)
            if current is None or current["status"] not in OPEN:
                raise BatchClosed(current)
            dataset = Dataset(current["dataset"])
            record = current
            replace = Replace(record["mode"], record["window_start"], record["window_end"])
            outcome = cost_rows.commit(
                cur,
                dataset,
                batch_id=batch_id,
                workspace_id=record["workspace_id"],
                provider_id=record["provider_id"],
                replace=replace,
                prepared=rows,
            )
            records.update(cur, batch_id, fields(outcome))
            if outcome.replaced_rows:
                cost_rows.prune(cur, dataset, current["provider_id"], keep)
            committed = records.get(cur, batch_id)
            assert committed is not None
            if response is not None:
                committed["response"] = response(committed)
                records.update(cur, batch_id, {"response": committed["response"]})
        return committed

    def fail(self, batch_id: str, fields: Record) -> bool:
        with self.warehouse.transaction() as cur:
            current = records.get(cur, batch_id)
            if current is None or current["status"] not in OPEN:
                return False
            cost_rows.discard_staged(cur, Dataset(current["dataset"]), batch_id)
            records.update(cur, batch_id, fields)
        return True

    def fail_open(
        self, fields: Record, *, created_before: datetime | None = None, skip: Iterable[str] = ()
    ) -> list[str]:
        skipped = set(skip)
        with self.warehouse.transaction() as cur:
            ids = [i for i in records.open_batch_ids(cur, created_before=created_before) if i not in skipped]
            cost_rows.discard_all_staged(cur, ids)
            for batch_id in ids:
                records.update(cur, batch_id, fields)
        return ids

    def revert(self, batch_id: str, *, keep: int, fields: Callable[[Reverted], Record]) -> None:
        with self.warehouse.transaction() as cur:
            current = records.get(cur, batch_id)
            assert current is not None
            dataset, provider_id = Dataset(current["dataset"]), current["provider_id"]
            check = cost_rows.revert_check(cur, dataset, batch_id, provider_id)
            expected = int((current["replaced"] or {}).get("rows", 0))
            if check.own_rows_superseded:
                raise RevertConflict(
                    "revert_conflict",
                    f"{check.own_rows_superseded} rows of batch {batch_id} were replaced by later batches; "
                    "revert those first",
                )
            if check.later_rows_on_restored_days:
                raise RevertConflict(
                    "revert_conflict",
                    f"later batches stored {check.later_rows_on_restored_days} rows on the days this batch "
                    "replaced; revert those first",
                )
            if check.replaced_rows_kept != expected:
                raise RevertConflict(
                    "revert_unavailable",
                    f"the {expected} rows batch {batch_id} replaced are no longer kept (only the last "
                    f"{keep} versions per day are); it cannot be reverted",
                )
            restored, retired, _ = cost_rows.revert(cur, dataset, batch_id, provider_id, "revert:" + batch_id)
            records.update(cur, batch_id, fields(Reverted(restored, retired)))

    def replaced_periods(self, batch_id: str) -> list[dict[str, Any]]:
        return restatements.replaced_periods(self.warehouse, batch_id)

    def status_counts(self) -> dict[str, int]:
        return health.batch_status_counts(self.warehouse)

    def ping(self) -> None:
        health.ping_warehouse(self.warehouse)

    def stored_row_counts(self, workspace_id: str, provider_id: str) -> dict[str, int]:
        return provider_rows.stored_row_counts(self.warehouse, workspace_id, provider_id)

    def tombstone_provider(
        self, workspace_id: str, provider_id: str, deleted_at: datetime | None = None
    ) -> provider_rows.Tombstone:
        return provider_rows.tombstone_provider(self.warehouse, workspace_id, provider_id, deleted_at)

    def unfinished_deletions(self, catalog: Catalog) -> list[provider_rows.Tombstone]:
        return provider_rows.unfinished_deletions(self.warehouse, catalog)

    def delete_leftovers(self) -> int:
        return provider_rows.delete_leftovers(self.warehouse)

    def untombstoned_deletions(self, catalog: Catalog) -> list[tuple[str, str, str]]:
        return provider_rows.untombstoned_deletions(self.warehouse, catalog)

    def tombstone_deleted(
        self, workspace_id: str, provider_id: str, deleted_at: str
    ) -> provider_rows.Tombstone:
        return provider_rows.tombstone_deleted(self.warehouse, workspace_id, provider_id, deleted_at)


def answers(found: Record, record: Record) -> bool:
    """Whether an earlier batch with the same Idempotency-Key answers this request (ingest.push decides
    how: a replay, a 409 while it runs, a 422 for another body); only one that failed without an answer, a
    crash, lets the same request run again as a new batch."""
    return (
        found["request_hash"] != record.get("request_hash")
        or found["response"] is not None
        or found["status"] in OPEN
    )
