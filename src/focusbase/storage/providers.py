"""SQL for providers: their catalog rows and, for deletion, their rows in the warehouse."""

from __future__ import annotations

import sqlite3
from typing import Any

from focusbase.storage import rollups
from focusbase.storage.catalog import Catalog, utcnow
from focusbase.storage.keys import KeyRecord, insert_key_in, revoke_key_in
from focusbase.storage.warehouse import Warehouse

# Rows of a provider in the warehouse: every version (live or superseded) per dataset, then staged rows of
# open batches. Whole statements rather than interpolated table names.
_COUNT = {
    "cost": "SELECT count(*) FROM cost_rows WHERE workspace_id = ? AND provider_id = ?",
    "contractCommitment": (
        "SELECT count(*) FROM contract_commitment_rows WHERE workspace_id = ? AND provider_id = ?"
    ),
}
_DELETE = {
    "cost": "DELETE FROM cost_rows WHERE workspace_id = ? AND provider_id = ?",
    "contractCommitment": "DELETE FROM contract_commitment_rows WHERE workspace_id = ? AND provider_id = ?",
}


def insert_provider(
    catalog: Catalog,
    *,
    provider_id: str,
    workspace_id: str,
    name: str,
    default_currency: str,
    ingest_key: KeyRecord,
) -> sqlite3.Row:
    """Insert a provider and its ingest key in one catalog transaction."""
    now = utcnow()
    with catalog.transaction() as tx:
        insert_key_in(tx, ingest_key)
        tx.execute(
            "INSERT INTO providers (id, workspace_id, name, default_currency, ingest_key_id, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (provider_id, workspace_id, name, default_currency, ingest_key.key_id, now, now),
        )
        row: sqlite3.Row = tx.execute("SELECT * FROM providers WHERE id = ?", (provider_id,)).fetchone()
        return row


def get_provider(
    catalog: Catalog, workspace_id: str, provider_id: str, *, include_deleted: bool = False
) -> sqlite3.Row | None:
    """The provider row of this workspace, or None (deleted providers only when asked)."""
    with catalog.read() as conn:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM providers WHERE id = ? AND workspace_id = ? AND (deleted_at IS NULL OR ?)",
            (provider_id, workspace_id, include_deleted),
        ).fetchone()
        return row


def list_providers(catalog: Catalog, workspace_id: str) -> list[sqlite3.Row]:
    """The workspace's providers that are not deleted, oldest first."""
    with catalog.read() as conn:
        return conn.execute(
            "SELECT * FROM providers WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY created_at, id",
            (workspace_id,),
        ).fetchall()


def update_provider(
    catalog: Catalog, workspace_id: str, provider_id: str, changes: dict[str, str]
) -> sqlite3.Row | None:
    """Apply changes to name and/or default_currency; None when there is no such live provider."""
    name = changes.get("name")
    currency = changes.get("default_currency")
    with catalog.transaction() as tx:
        cur = tx.execute(
            "UPDATE providers SET name = COALESCE(?, name), default_currency = COALESCE(?, default_currency),"
            " updated_at = ? WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL",
            (name, currency, utcnow(), provider_id, workspace_id),
        )
        if cur.rowcount != 1:
            return None
        row: sqlite3.Row = tx.execute("SELECT * FROM providers WHERE id = ?", (provider_id,)).fetchone()
        return row


def replace_ingest_key(
    catalog: Catalog, workspace_id: str, provider_id: str, new_key: KeyRecord
) -> sqlite3.Row | None:
    """Insert a new ingest key, revoke the old one and point the provider at the new one, atomically."""
    with catalog.transaction() as tx:
        row: sqlite3.Row | None = tx.execute(
            "SELECT * FROM providers WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL",
            (provider_id, workspace_id),
        ).fetchone()
        if row is None:
            return None
        insert_key_in(tx, new_key)
        if row["ingest_key_id"] is not None:
            revoke_key_in(tx, workspace_id, row["ingest_key_id"])
        tx.execute(
            "UPDATE providers SET ingest_key_id = ?, updated_at = ? WHERE id = ?",
            (new_key.key_id, utcnow(), provider_id),
        )
        updated: sqlite3.Row = tx.execute("SELECT * FROM providers WHERE id = ?", (provider_id,)).fetchone()
        return updated


def stored_row_counts(warehouse: Warehouse, workspace_id: str, provider_id: str) -> dict[str, int]:
    """Rows a provider has in the warehouse, every version, per dataset."""
    counts: dict[str, int] = {}
    with warehouse.cursor() as cur:
        for dataset, statement in _COUNT.items():
            found = cur.execute(statement, [workspace_id, provider_id]).fetchone()
            counts[dataset] = int(found[0]) if found else 0
    return counts


def live_cost_row_counts(
    warehouse: Warehouse, workspace_id: str, provider_id: str | None = None
) -> dict[str, int]:
    """Live Cost and Usage rows per provider of a workspace (one grouped scan), or of one provider."""
    with warehouse.cursor() as cur:
        rows = cur.execute(
            "SELECT provider_id, count(*) FROM live_cost_rows WHERE workspace_id = ?"
            " AND (CAST(? AS VARCHAR) IS NULL OR provider_id = ?) GROUP BY provider_id",
            [workspace_id, provider_id, provider_id],
        ).fetchall()
    return {str(pid): int(count) for pid, count in rows}


def purge_provider(
    warehouse: Warehouse,
    catalog: Catalog,
    workspace_id: str,
    provider_id: str,
) -> dict[str, Any]:
    """Delete a provider's warehouse rows and soft-delete it with its ingest key revoked.

    The warehouse rows go in one transaction under the single writer lock, so no batch commit interleaves;
    the catalog change commits just before the warehouse transaction, which rolls back if it fails.
    """
    deleted: dict[str, int] = {}
    with warehouse.transaction() as cur:
        for dataset, statement in _DELETE.items():
            found = cur.execute(statement, [workspace_id, provider_id]).fetchone()
            deleted[dataset] = int(found[0]) if found else 0
        rollups.drop_provider(cur, workspace_id, provider_id)
        cur.execute(
            "UPDATE batches SET status = 'failed', failure_reason = 'provider deleted',"
            " updated_at = now()::TIMESTAMP WHERE workspace_id = ? AND provider_id = ?"
            " AND status IN ('received', 'validating')",
            [workspace_id, provider_id],
        )
        now = utcnow()
        with catalog.transaction() as tx:
            row = tx.execute(
                "SELECT ingest_key_id FROM providers"
                " WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL",
                (provider_id, workspace_id),
            ).fetchone()
            if row is None:
                raise LookupError(f"no provider {provider_id!r}")
            if row["ingest_key_id"] is not None:
                revoke_key_in(tx, workspace_id, row["ingest_key_id"])
            tx.execute(
                "UPDATE providers SET deleted_at = ?, updated_at = ? WHERE id = ?", (now, now, provider_id)
            )
    return {"rows": sum(deleted.values()), **deleted, "deletedAt": now}
