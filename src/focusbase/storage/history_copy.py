"""`focusbase migrate-storage`: the History (every batch, its Idempotency-Key and replayed answer) into the
scale-out profile's `batches` table in PostgreSQL, numbered as the copied rows are in ClickHouse."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from focusbase.storage import batches as records
from focusbase.storage.catalog import Catalog
from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_ingest import migrate_batches
from focusbase.storage.warehouse import Warehouse

# A batch open in the source is closed by the copy: its staged rows stay behind (only live rows are copied).
LEFT_OPEN = "open when its data directory was migrated (focusbase migrate-storage); its parts were not copied"


@dataclass(frozen=True, slots=True)
class HistoryCopy:
    copied: int
    already: int
    closed: int  # batches open in the source, copied as failed


def copy_history(source: Warehouse, target: Catalog, clickhouse: ClickHouseWarehouse) -> HistoryCopy:
    """Copy every batch record the target does not hold yet, in one transaction; a rerun copies nothing."""
    migrate_batches(target, clickhouse)
    seqs = clickhouse.batch_seqs()
    with source.cursor() as cur:
        found = records.every(cur)
    copied = closed = 0
    with target.transaction() as tx:
        held = {row[0] for row in tx.execute("SELECT id FROM batches").fetchall()}
        for record in found:
            if record["id"] in held:
                continue
            if record["status"] in records.OPEN_STATUSES:
                stamp = datetime.now(UTC).replace(tzinfo=None)
                record = {**record, "status": "failed", "failure_reason": LEFT_OPEN, "updated_at": stamp}
                record["expires_at"] = None
                closed += 1
            records.insert(tx, record)
            if record["id"] in seqs:
                tx.execute(
                    "UPDATE batches SET batch_seq = ? WHERE id = ?", (seqs[record["id"]], record["id"])
                )
            copied += 1
    return HistoryCopy(copied, len(found) - copied, closed)


def history_counts(source: Warehouse, target: Catalog) -> tuple[Counter[str], Counter[str]]:
    """Batches per (workspace, provider) in the source and the target, for the check."""
    with source.cursor() as cur:
        mine = Counter(
            f"{r[0]}/{r[1]}" for r in cur.execute("SELECT workspace_id, provider_id FROM batches").fetchall()
        )
    with target.read() as conn:
        rows = conn.execute("SELECT workspace_id, provider_id FROM batches").fetchall()
    return mine, Counter(f"{r[0]}/{r[1]}" for r in rows)
