"""The ClickHouse warehouse's shapes: key layout, datasets, the live filter, outcomes and errors."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from focusbase.focus import Dataset
from focusbase.storage.cost_rows import CommitOutcome, exact
from focusbase.storage.rollups import DIMENSIONS as ROLLUP_DIMENSION_ORDER
from focusbase.storage.rollups import MEASURES as ROLLUP_MEASURE_ORDER

DAY_BITS = 20  # day_batch = (batch_seq << 20) | day number: days up to 2^20 (year 4840)
ROW_BITS = 32  # row_id = (batch_seq << 32) | row number in the batch
COPY_ROW_BASE = 1 << 31  # row numbers of rows a replace_range/months copies in (a batch's own stay below)
# |sum| must fit DECIMAL(38, 12), the type every other part of focusbase (and DuckDB) answers in.
DECIMAL_38_12_MAX = Decimal("9" * 26 + "." + "9" * 12)  # a literal: arithmetic would round at 28 digits
SUMMED = ("BilledCost", "EffectiveCost")
# The dimensions of the daily rollup (migration 0006): DuckDB's rollup DIMENSIONS (storage/rollups.py) but the
# currency, which every grouped read keeps apart anyway.
ROLLUP_DIMENSIONS = frozenset(d for d in ROLLUP_DIMENSION_ORDER if d != "BillingCurrency")
# Columns a grouped read may name (our own column names only; never text from a request).
GROUPABLE = ROLLUP_DIMENSIONS
# Columns stage() derives itself; every other non-materialized column of a dataset's table is a stored FOCUS
# column.
DERIVED = ("workspace_id", "provider_id", "batch_id", "batch_seq", "day_batch", "row_id", "charge_day")
# What rollup_daily_totals may sum (the rollup's measures, migration 0006: DuckDB's rollup MEASURES).
ROLLUP_MEASURES = frozenset(ROLLUP_MEASURE_ORDER)
CATALOG_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # how the catalog writes times (Tombstone.deleted_at)


@dataclass(frozen=True, slots=True)
class Table:
    """Where a dataset's rows live and what a commit sums per currency."""

    name: str
    summed: tuple[str, ...]
    by_day: bool  # has a charge day: the day-based replace kinds apply


TABLES = {
    Dataset.COST_AND_USAGE: Table("cost_rows", SUMMED, by_day=True),
    Dataset.CONTRACT_COMMITMENT: Table("contract_commitment_rows", ("ContractCommitmentCost",), by_day=False),
}
COMMITMENT_KINDS = ("append", "replace_all")  # as ingest.model.COMMITMENT_MODES
# Whatever ClickHouse's own session default is (chDB's is async_insert=1), inserts here are synchronous:
# an asynchronous insert may be split into several blocks, and the visibility flip must be one.
INSERT_SETTINGS: dict[str, Any] = {"async_insert": 0}


class WarehouseValueOutOfRange(ArithmeticError):
    """A sum left the DECIMAL(38, 12) range; nothing wrong is answered."""


class RevertRefused(RuntimeError):
    """Reverting the batch would restore rows that later data has replaced or overlaps."""


@dataclass(frozen=True, slots=True)
class BatchRef:
    """The batch a write is for; `batch_seq` is unique and increasing (a catalog sequence)."""

    workspace_id: str
    provider_id: str
    batch_id: str
    batch_seq: int
    dataset: Dataset = Dataset.COST_AND_USAGE

    def __post_init__(self) -> None:
        if not 0 < self.batch_seq < 1 << 32:
            raise ValueError("batch_seq must be a positive 32-bit number")


@dataclass(frozen=True, slots=True)
class ClickHouseCommitOutcome(CommitOutcome):
    """DuckDB's commit outcome, plus how many replicas were seen holding every row before the flip."""

    replicas_verified: int = 1


@dataclass(frozen=True, slots=True)
class RevertOutcome:
    """Rows live again, rows retired, and the batches whose day-batches were restored."""

    restored_rows: int
    retired_rows: int
    restored_batches: list[str]


@dataclass(frozen=True, slots=True)
class Page:
    """One keyset page of live rows, in row_id order."""

    rows: list[dict[str, Any]]
    next_after: int | None  # the row_id to continue after, None on the last page


# The day-batches of workspace {ws} whose latest version is not deleted, of providers not tombstoned. argMax,
# not FINAL: the same answer on every ClickHouse version, merged or not. A tombstone is one row, so a reader
# sees every row of a deleted provider or none.
LIVE = (
    "day_batch IN (SELECT day_batch FROM live_day_batches WHERE workspace_id = {ws:String}"
    " AND provider_id NOT IN (SELECT provider_id FROM deleted_providers WHERE workspace_id = {ws:String})"
    " GROUP BY day_batch HAVING argMax(is_deleted, commit_seq) = 0)"
)


def checked(value: Decimal | None) -> str:
    if value is None:
        return "0"
    if value.copy_abs() > DECIMAL_38_12_MAX:  # exact: abs() would round at 28 digits
        raise WarehouseValueOutOfRange(f"a sum ({value:.0f}) is beyond DECIMAL(38, 12)")
    return exact(format(value, "f"))
