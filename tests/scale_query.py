"""On the ClickHouse run, the SQL a test asks of the embedded warehouse's tables, answered over a snapshot.

The tests of ingest check what was stored with SQL on DuckDB's tables (`cost_rows` with `superseded_by`,
`live_cost_rows`, `batches`). On the scale-out profile the same facts live in ClickHouse (rows and their
visibility) and PostgreSQL (batches). This builds, for each query, an in-memory DuckDB of the embedded schema
holding what the scale-out stores hold, in the embedded warehouse's terms, and runs the test's SQL on it:

* `batches`: every batch record of the PostgreSQL catalog;
* `cost_rows` / `contract_commitment_rows`: every stored row, `row_seq` its ClickHouse `row_id`, and
  `superseded_by` from the newest visibility row of its day-batch: NULL while live, the batch (or
  `revert:<batch>`) that retired it, or `staged:<batch>` when no commit made it visible yet. Rows of deleted
  providers are left out, as the embedded warehouse deletes them.

What differs by design stays different (a replace_range that covers a day partly copies the day's other rows
into the new batch on ClickHouse; DuckDB leaves them with their batch), and a test that depends on it fails
here rather than pass on a fiction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from focusbase.focus import Dataset
from focusbase.storage import Warehouse
from focusbase.storage import batches as records
from focusbase.storage.clickhouse_types import TABLES as CH_TABLES
from focusbase.storage.cost_rows import META_COLUMNS, TABLES, table_columns

_VISIBILITY = (
    "SELECT day_batch, argMax(is_deleted, commit_seq) AS gone, argMax(changed_by, commit_seq) AS by"
    " FROM live_day_batches GROUP BY day_batch"
)


def snapshot_query(runtime: Any) -> Callable[[str, list[Any] | None], list[tuple[Any, ...]]]:
    """`query(sql, params)` over a fresh snapshot of the runtime's PostgreSQL batches and ClickHouse rows."""

    def run(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        snapshot = Warehouse(Path(":memory:"))
        try:
            with snapshot.cursor() as cur:
                cur.execute("SET TimeZone = 'UTC'")
                _fill(cur, runtime)
                return cur.execute(sql, params or []).fetchall()
        finally:
            snapshot.close()

    return run


def _fill(cur: Any, runtime: Any) -> None:
    with runtime.catalog.read() as conn:
        for record in records.every(conn):
            records.insert(cur, record)
    warehouse = runtime.ingest.ch
    dead = "provider_id NOT IN (SELECT provider_id FROM deleted_providers)"
    for dataset in (Dataset.COST_AND_USAGE, Dataset.CONTRACT_COMMITMENT):
        target = TABLES[dataset].rows
        kept = ("workspace_id", "provider_id", "batch_id", "charge_day")
        names = [name for name in table_columns(cur, target) if name not in META_COLUMNS or name in kept]
        stored = set(warehouse.stored_columns(dataset)) | {
            "workspace_id",
            "provider_id",
            "batch_id",
            "charge_day",
        }
        chosen = ", ".join(f'r."{name}"' for name in names if name in stored)
        superseded = (
            "multiIf(v.day_batch = 0, concat('staged:', r.batch_id), v.gone = 1, v.by, NULL) AS superseded_by"
        )
        with warehouse._client_lock:
            table = warehouse._client.query_arrow(
                f"SELECT r.row_id AS row_seq, {superseded}, {chosen} FROM {CH_TABLES[dataset].name} AS r"
                f" LEFT JOIN ({_VISIBILITY}) AS v ON v.day_batch = r.day_batch WHERE r.{dead}",
                settings={"join_use_nulls": 0},
            )
        if table.num_rows:
            cur.register("__snapshot", table)
            cur.execute(f"INSERT INTO {target} BY NAME SELECT * FROM __snapshot")
            cur.unregister("__snapshot")


def store_rows(
    runtime: Any,
    table: Any,
    *,
    dataset: Dataset = Dataset.COST_AND_USAGE,
    workspace_id: str,
    provider_id: str,
    batch_id: str,
) -> str:
    """On the ClickHouse run, what tests that write rows straight into DuckDB do instead: a committed batch of
    `table` (stored FOCUS columns, exact decimals) through the ClickHouse warehouse's own stage and commit
    (append), its record in PostgreSQL. A batch id already used gets a suffix. Returns the batch id."""
    import pyarrow as pa

    from focusbase.storage.cost_rows import Replace

    store = runtime.ingest
    while store.get(batch_id) is not None:
        batch_id += "_"
    now = datetime.now(UTC).replace(tzinfo=None)
    record = {
        "id": batch_id, "workspace_id": workspace_id, "provider_id": provider_id, "dataset": dataset.value,
        "source": "loader", "mode": "append", "status": "received", "errors": [], "defaults_applied": {},
        "rows_received": table.num_rows, "created_at": now, "updated_at": now,
    }  # fmt: skip
    store.create(record)
    found = store._record(batch_id)
    assert found is not None
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            table = table.set_column(
                index, field.name, table.column(index).cast(pa.timestamp("us", tz="UTC"))
            )
    if table.num_rows:
        store.ch.stage(found[1], 0, 0, table)
        store.ch.commit(found[1], Replace("append"), at=now.replace(tzinfo=UTC))  # its commit time is `now`
    store.update(batch_id, {"status": "committed", "line_items_created": table.num_rows, "committed_at": now})
    return batch_id
