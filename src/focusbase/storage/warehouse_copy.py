"""Copy the live rows and tombstones of a DuckDB warehouse into the ClickHouse warehouse, and compare the two.

Each batch with live rows (Cost and Usage or Contract Commitment) is staged in chunks through the ClickHouse
warehouse's own `stage` and made live by its `commit` (append: only live rows are copied, so nothing is to be
replaced). Cost and Usage batches are numbered 1, 2, ... in DuckDB's commit order (the order of their rows'
row_seq), then Contract Commitment batches after them in theirs, so pages of each dataset come in the same
order on both. A rerun after an interruption skips committed batches and stages a batch from the first row
ClickHouse does not hold yet: a part is one insert, so what is staged is always a prefix. Deleted providers'
tombstones are written with the ClickHouse warehouse's `delete_provider`, keeping their deletion time.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from focusbase.focus import Dataset
from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_types import CATALOG_TIME, BatchRef
from focusbase.storage.cost_rows import META_COLUMNS, TABLES, Replace, exact
from focusbase.storage.warehouse import Warehouse

# Compared to the last digit, per (workspace, provider, BillingCurrency).
SUMMED = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
COMMITMENT_SUMMED = ("ContractCommitmentCost",)
SUMMED_BY = {Dataset.COST_AND_USAGE: SUMMED, Dataset.CONTRACT_COMMITMENT: COMMITMENT_SUMMED}
# Cost and Usage batches first: they keep the numbers that a copy made by an earlier focusbase (which copied
# no commitments) gave them, so such a copy resumes.
DATASETS = (Dataset.COST_AND_USAGE, Dataset.CONTRACT_COMMITMENT)
# Live rows, as the server serves them once started: rows a crash left behind of a tombstoned provider are
# deleted by its next start (tenancy.providers.finish_deletions), so they are neither copied nor counted.
SOURCE_LIVE = "superseded_by IS NULL AND provider_id NOT IN (SELECT provider_id FROM deleted_providers)"
UTC_TIME = pa.timestamp("us", tz="UTC")


class WarehouseCopyRefused(RuntimeError):
    """The ClickHouse warehouse holds data that is not (a part of) this data directory's copy."""


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """A batch with live rows in the DuckDB warehouse, its dataset and its number in ClickHouse."""

    ref: BatchRef
    rows: int
    first_seq: int
    last_seq: int
    committed_at: datetime | None = None  # UTC; the copy's commit is written at this time


@dataclass(slots=True)
class WarehouseCopy:
    """What a copy did."""

    batches_copied: int = 0
    batches_skipped: int = 0  # committed by an earlier run
    rows_staged: int = 0  # Cost and Usage rows
    commitment_rows_staged: int = 0
    tombstones_copied: int = 0
    tombstones_skipped: int = 0  # written by an earlier run


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def source_batches(cur: duckdb.DuckDBPyConnection) -> list[SourceBatch]:
    """Batches with live rows, each dataset in commit order, numbered 1, 2, ... (their ClickHouse batch_seq).

    WarehouseCopyRefused when one batch id has rows in both datasets (ingest never writes such a batch).
    """
    found: list[tuple[Dataset, tuple[Any, ...]]] = []
    for dataset in DATASETS:
        rows = cur.execute(
            "SELECT batch_id, workspace_id, provider_id, count(*), min(row_seq), max(row_seq)"  # noqa: S608
            f" FROM {TABLES[dataset].rows} WHERE {SOURCE_LIVE} GROUP BY ALL ORDER BY min(row_seq)"
        ).fetchall()
        found.extend((dataset, tuple(r)) for r in rows)
    committed = {
        str(batch_id): at.replace(tzinfo=UTC)
        for batch_id, at in cur.execute(
            "SELECT id, committed_at FROM batches WHERE committed_at IS NOT NULL"
        ).fetchall()
    }
    batches = [
        SourceBatch(
            BatchRef(str(ws), str(provider), str(batch), seq, dataset),
            int(n),
            int(first),
            int(last),
            committed.get(str(batch)),
        )
        for seq, (dataset, (batch, ws, provider, n, first, last)) in enumerate(found, start=1)
    ]
    both = {b.ref.batch_id for b in batches if b.ref.dataset is Dataset.CONTRACT_COMMITMENT} & {
        b.ref.batch_id for b in batches if b.ref.dataset is Dataset.COST_AND_USAGE
    }
    if both:
        raise WarehouseCopyRefused(f"batch {sorted(both)[0]} has live rows in both datasets")
    return batches


def _focus_columns(cur: duckdb.DuckDBPyConnection, dataset: Dataset) -> list[tuple[str, str]]:
    rows = cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?"
        " ORDER BY ordinal_position",
        [TABLES[dataset].rows],
    ).fetchall()
    return [(str(name), str(kind)) for name, kind in rows if name not in META_COLUMNS]


def _select(columns: list[tuple[str, str]]) -> str:
    # JSON as its text, as ClickHouse stores it; times stay TIMESTAMP (UTC) and are marked UTC below.
    return ", ".join(
        f"CAST({_quote(name)} AS VARCHAR) AS {_quote(name)}" if kind == "JSON" else _quote(name)
        for name, kind in columns
    )


def copy_warehouse(
    source: Warehouse,
    target: ClickHouseWarehouse,
    *,
    chunk_rows: int = 100_000,
    progress: Callable[[SourceBatch, int], None] | None = None,
) -> WarehouseCopy:
    """Stage and commit every batch's live rows into ClickHouse, then write the deleted providers' tombstones;
    `progress(batch, rows_done)` per chunk.

    WarehouseCopyRefused when the target holds a batch this directory does not have (or under another
    number), or when the two warehouses do not store the same FOCUS columns.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    report = WarehouseCopy()
    with source.cursor() as cur:
        selects: dict[Dataset, str] = {}
        for dataset in DATASETS:
            columns = _focus_columns(cur, dataset)
            _check_columns(dataset, columns, target.stored_columns(dataset))
            selects[dataset] = _select(columns)
        batches = source_batches(cur)
        numbers = {b.ref.batch_id: b.ref.batch_seq for b in batches}
        held = target.batch_seqs()
        foreign = sorted(b for b, seq in held.items() if numbers.get(b) != seq)
        if foreign:
            raise WarehouseCopyRefused(
                f"the ClickHouse warehouse holds {len(foreign)} batches that are not this data directory's"
                f" live batches in its numbering (first: {foreign[0]}); migrate into an empty database"
            )
        committed = target.committed_batches()
        for batch in batches:
            if batch.ref.batch_id in committed:
                report.batches_skipped += 1
                continue
            # A batch the target holds no row of has nothing staged: one query fewer per batch.
            done = target.staged_prefix(batch.ref) if batch.ref.batch_id in held else 0
            parts = 0
            if done is None:
                # Not a prefix (an insert over several months failed part-way): staged again from its first
                # row, under part numbers of their own so ClickHouse's deduplication cannot drop them.
                target.discard_staged(batch.ref)
                done, parts = 0, secrets.randbits(20) << 40
            staged = _stage_batch(
                cur, target, batch, done, selects[batch.ref.dataset], chunk_rows, progress, parts=parts
            )
            if batch.ref.dataset is Dataset.COST_AND_USAGE:
                report.rows_staged += staged
            else:
                report.commitment_rows_staged += staged
            target.commit(batch.ref, Replace("append"), at=batch.committed_at)
            report.batches_copied += 1
    # No row of a tombstoned provider is copied (SOURCE_LIVE), so no commit above meets a tombstone here.
    for (workspace_id, provider_id), deleted_at in source_tombstones(source).items():
        if target.tombstone(workspace_id, provider_id) is not None:
            report.tombstones_skipped += 1
            continue
        at = datetime.strptime(deleted_at, CATALOG_TIME).replace(tzinfo=UTC)
        target.delete_provider(workspace_id, provider_id, at)
        report.tombstones_copied += 1
    return report


def _check_columns(dataset: Dataset, columns: list[tuple[str, str]], stored: list[str]) -> None:
    mine = {name for name, _ in columns}
    if mine != set(stored):
        raise WarehouseCopyRefused(
            f"the warehouses store different {dataset.value} columns: only in DuckDB"
            f" {sorted(mine - set(stored))}, only in ClickHouse {sorted(set(stored) - mine)}"
        )


def _stage_batch(
    cur: duckdb.DuckDBPyConnection,
    target: ClickHouseWarehouse,
    batch: SourceBatch,
    done: int,
    select: str,
    chunk_rows: int,
    progress: Callable[[SourceBatch, int], None] | None,
    *,
    parts: int = 0,
) -> int:
    if done > batch.rows:
        raise WarehouseCopyRefused(
            f"batch {batch.ref.batch_id} has {done} rows staged in ClickHouse but {batch.rows} live rows here"
        )
    table = TABLES[batch.ref.dataset].rows
    after = batch.first_seq - 1
    if done:
        after = int(
            cur.execute(
                f"SELECT row_seq FROM {table} WHERE batch_id = ? AND superseded_by IS NULL"  # noqa: S608
                " ORDER BY row_seq LIMIT 1 OFFSET ?",
                [batch.ref.batch_id, done - 1],
            ).fetchall()[0][0]
        )
    staged = 0
    while done < batch.rows:
        # Keyset chunks: the chunk's last row_seq first (one narrow column), then its rows by a row_seq range
        # that prunes row groups; a top-N over every column would scan and hold far more.
        live = "batch_id = ? AND superseded_by IS NULL AND row_seq > ? AND row_seq <= ?"
        upper = cur.execute(
            f"SELECT max(row_seq) FROM (SELECT row_seq FROM {table} WHERE {live}"  # noqa: S608
            " ORDER BY row_seq LIMIT ?)",
            [batch.ref.batch_id, after, batch.last_seq, chunk_rows],
        ).fetchall()[0][0]
        chunk = cur.sql(
            f"SELECT row_seq, {select} FROM {table} WHERE {live} ORDER BY row_seq",  # noqa: S608
            params=[batch.ref.batch_id, after, after if upper is None else int(upper)],
        ).to_arrow_table()
        if chunk.num_rows == 0:
            raise RuntimeError(f"batch {batch.ref.batch_id} changed while it was copied")
        after = int(pc.max(chunk["row_seq"]).as_py())
        rows = _as_utc(chunk.drop_columns(["row_seq"]))
        # The part number is the part's first row: unique in the batch whatever --chunk-rows a rerun uses.
        target.stage(batch.ref, parts + done, done, rows)
        done += rows.num_rows
        staged += rows.num_rows
        if progress is not None:
            progress(batch, done)
    if target.staged_count(batch.ref) != batch.rows:
        raise RuntimeError(
            f"batch {batch.ref.batch_id}: {target.staged_count(batch.ref)} rows staged, {batch.rows} expected"
        )
    return staged


def _as_utc(table: pa.Table) -> pa.Table:
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            table = table.set_column(index, field.name, pc.cast(table.column(index), UTC_TIME))
    return table


# ----------------------------------------------------------------------------------------------- verify


Totals = dict[tuple[str, str, str], dict[str, Any]]


def source_totals(source: Warehouse, dataset: Dataset = Dataset.COST_AND_USAGE) -> Totals:
    """Live rows and exact sums per (workspace, provider, BillingCurrency) of a dataset in DuckDB."""
    select = "".join(f", CAST(sum({_quote(c)}) AS VARCHAR)" for c in SUMMED_BY[dataset])
    with source.cursor() as cur:
        rows = cur.execute(
            f"SELECT workspace_id, provider_id, coalesce(\"BillingCurrency\", ''), count(*){select}"  # noqa: S608
            f" FROM {TABLES[dataset].rows} WHERE {SOURCE_LIVE} GROUP BY 1, 2, 3"
        ).fetchall()
    result: Totals = {}
    for ws, provider, currency, count, *sums in rows:
        entry: dict[str, Any] = {"rows": int(count)}
        entry.update({name: exact(value) for name, value in zip(SUMMED_BY[dataset], sums, strict=True)})
        result[(str(ws), str(provider), str(currency))] = entry
    return result


def target_totals(
    target: ClickHouseWarehouse, workspaces: Iterable[str], dataset: Dataset = Dataset.COST_AND_USAGE
) -> Totals:
    """The same figures over the ClickHouse warehouse's live rows."""
    result: Totals = {}
    for ws in sorted(set(workspaces) | set(target.workspaces())):
        for (provider, currency), entry in target.live_totals(ws, SUMMED_BY[dataset], dataset).items():
            result[(ws, provider, currency)] = entry
    return result


def source_tombstones(source: Warehouse) -> dict[tuple[str, str], str]:
    """(workspace, provider) -> deletion time (as the catalog writes it) of every deleted provider."""
    with source.cursor() as cur:
        rows = cur.execute("SELECT workspace_id, provider_id, deleted_at FROM deleted_providers").fetchall()
    return {(str(ws), str(provider)): at.strftime(CATALOG_TIME) for ws, provider, at in sorted(rows)}


def target_tombstones(target: ClickHouseWarehouse) -> dict[tuple[str, str], str]:
    """The same over the ClickHouse warehouse's tombstones."""
    return {(ws, provider): at for ws, provider, at in target.tombstones()}


@dataclass(frozen=True, slots=True)
class Comparison:
    """One (workspace, provider, currency): the figures on each side and the measures that differ."""

    key: tuple[str, str, str]
    source: dict[str, Any] | None
    target: dict[str, Any] | None
    differing: list[str]


def compare_totals(
    source: Totals, target: Totals, dataset: Dataset = Dataset.COST_AND_USAGE
) -> list[Comparison]:
    """Every key of either side, with the measures (rows, each sum) that are not equal to the last digit."""
    result = []
    measures = ("rows", *SUMMED_BY[dataset])
    for key in sorted(set(source) | set(target)):
        mine, theirs = source.get(key), target.get(key)
        differing = [m for m in measures if (mine or {}).get(m) != (theirs or {}).get(m)]
        result.append(Comparison(key, mine, theirs, differing))
    return result
