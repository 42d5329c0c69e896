"""SQL for providers: their catalog rows and, for deletion, their rows in the warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from focusbase.storage import rollups
from focusbase.storage.catalog import Catalog, Row, utcnow
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
FAILURE_REASON = "provider deleted"  # of the open batches a deletion fails, and of a commit that comes later
_CATALOG_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # the catalog's timestamps (catalog.utcnow)


class ProviderDeleted(Exception):
    """A batch of a deleted (tombstoned) provider tried to commit; nothing of it was stored."""

    def __init__(self, provider_id: str) -> None:
        self.provider_id = provider_id
        super().__init__(f"provider {provider_id} was deleted")


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A deleted provider as the warehouse records it, with the rows its deletion removed."""

    provider_id: str
    workspace_id: str
    deleted_at: str  # as the catalog writes it
    cost_rows: int
    contract_commitment_rows: int


_DELETE = {
    "cost": "DELETE FROM cost_rows WHERE workspace_id = ? AND provider_id = ?",
    "contractCommitment": "DELETE FROM contract_commitment_rows WHERE workspace_id = ? AND provider_id = ?",
}
_DELETE_ANY = {  # rows of any of a list of providers
    "cost": "DELETE FROM cost_rows WHERE list_contains(?, provider_id)",
    "contractCommitment": "DELETE FROM contract_commitment_rows WHERE list_contains(?, provider_id)",
}


def insert_provider(
    catalog: Catalog,
    *,
    provider_id: str,
    workspace_id: str,
    name: str,
    default_currency: str,
    ingest_key: KeyRecord,
) -> Row:
    """Insert a provider and its ingest key in one catalog transaction."""
    now = utcnow()
    with catalog.transaction() as tx:
        insert_key_in(tx, ingest_key)
        tx.execute(
            "INSERT INTO providers (id, workspace_id, name, default_currency, ingest_key_id, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (provider_id, workspace_id, name, default_currency, ingest_key.key_id, now, now),
        )
        row: Row = tx.execute("SELECT * FROM providers WHERE id = ?", (provider_id,)).fetchone()
        return row


def get_provider(
    catalog: Catalog, workspace_id: str, provider_id: str, *, include_deleted: bool = False
) -> Row | None:
    """The provider row of this workspace, or None (deleted providers only when asked)."""
    with catalog.read() as conn:
        row: Row | None = conn.execute(
            # `? = 1`, not a bare `?`: PostgreSQL wants a boolean there and catalog flags are 0/1 integers.
            "SELECT * FROM providers WHERE id = ? AND workspace_id = ? AND (deleted_at IS NULL OR ? = 1)",
            (provider_id, workspace_id, int(include_deleted)),
        ).fetchone()
        return row


def list_providers(catalog: Catalog, workspace_id: str) -> list[Row]:
    """The workspace's providers that are not deleted, oldest first."""
    with catalog.read() as conn:
        return conn.execute(
            "SELECT * FROM providers WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY created_at, id",
            (workspace_id,),
        ).fetchall()


def update_provider(
    catalog: Catalog, workspace_id: str, provider_id: str, changes: dict[str, str]
) -> Row | None:
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
        row: Row = tx.execute("SELECT * FROM providers WHERE id = ?", (provider_id,)).fetchone()
        return row


def replace_ingest_key(
    catalog: Catalog, workspace_id: str, provider_id: str, new_key: KeyRecord
) -> Row | None:
    """Insert a new ingest key, revoke the old one and point the provider at the new one, atomically."""
    with catalog.transaction() as tx:
        row: Row | None = tx.execute(
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
        updated: Row = tx.execute("SELECT * FROM providers WHERE id = ?", (provider_id,)).fetchone()
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


def is_deleted(cur: duckdb.DuckDBPyConnection, workspace_id: str, provider_id: str) -> bool:
    """Whether the provider is tombstoned: its rows are gone and no batch of it may store any."""
    found = cur.execute(
        "SELECT count(*) FROM deleted_providers WHERE workspace_id = ? AND provider_id = ?",
        [workspace_id, provider_id],
    ).fetchone()
    return bool(found and found[0])


def _delete_rows(cur: duckdb.DuckDBPyConnection, workspace_id: str, provider_id: str) -> dict[str, int]:
    # Every version of every dataset, staged rows of open batches included; those batches fail.
    deleted: dict[str, int] = {}
    for dataset, statement in _DELETE.items():
        found = cur.execute(statement, [workspace_id, provider_id]).fetchone()
        deleted[dataset] = int(found[0]) if found else 0
    rollups.drop_provider(cur, workspace_id, provider_id)
    cur.execute(
        "UPDATE batches SET status = 'failed', failure_reason = ?, updated_at = now()::TIMESTAMP,"
        " expires_at = NULL WHERE workspace_id = ? AND provider_id = ?"
        " AND status IN ('received', 'validating')",
        [FAILURE_REASON, workspace_id, provider_id],
    )
    return deleted


def _tombstone(
    cur: duckdb.DuckDBPyConnection,
    workspace_id: str,
    provider_id: str,
    deleted: dict[str, int],
    deleted_at: datetime,
) -> Tombstone:
    # A repeated deletion (its catalog step had not happened) keeps the first time and adds what it deleted.
    cur.execute(
        "INSERT INTO deleted_providers (provider_id, workspace_id, deleted_at, cost_rows,"
        " contract_commitment_rows) VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider_id) DO UPDATE SET"
        " cost_rows = deleted_providers.cost_rows + excluded.cost_rows,"
        " contract_commitment_rows = deleted_providers.contract_commitment_rows"
        " + excluded.contract_commitment_rows",
        [provider_id, workspace_id, deleted_at, deleted["cost"], deleted["contractCommitment"]],
    )
    found = cur.execute(_TOMBSTONES + " WHERE provider_id = ?", [provider_id]).fetchall()
    return _tombstone_of(found[0])


_TOMBSTONES = (
    "SELECT provider_id, workspace_id, deleted_at, cost_rows, contract_commitment_rows FROM deleted_providers"
)


def _tombstone_of(row: tuple[Any, ...]) -> Tombstone:
    return Tombstone(
        provider_id=row[0],
        workspace_id=row[1],
        deleted_at=row[2].strftime(_CATALOG_TIME),
        cost_rows=int(row[3]),
        contract_commitment_rows=int(row[4]),
    )


def mark_deleted(catalog: Catalog, workspace_id: str, provider_id: str, deleted_at: str) -> bool:
    """Soft-delete the live provider and revoke its ingest key in one catalog transaction; False: not live."""
    with catalog.transaction() as tx:
        row = tx.execute(
            "SELECT ingest_key_id FROM providers WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL",
            (provider_id, workspace_id),
        ).fetchone()
        if row is None:
            return False
        if row["ingest_key_id"] is not None:
            revoke_key_in(tx, workspace_id, row["ingest_key_id"])
        tx.execute(
            "UPDATE providers SET deleted_at = ?, updated_at = ? WHERE id = ?",
            (deleted_at, deleted_at, provider_id),
        )
    return True


def tombstone_provider(
    warehouse: Warehouse, workspace_id: str, provider_id: str, deleted_at: datetime | None = None
) -> Tombstone:
    """The warehouse step of a deletion, in one transaction: every row goes, open batches fail, a tombstone
    records it (at `deleted_at`, naive UTC, default now). Repeating it keeps the first tombstone's time.
    """
    with warehouse.transaction() as cur:
        return tombstone_in(cur, workspace_id, provider_id, deleted_at)


def tombstone_in(
    cur: duckdb.DuckDBPyConnection, workspace_id: str, provider_id: str, deleted_at: datetime | None = None
) -> Tombstone:
    """`tombstone_provider` inside an open warehouse transaction."""
    deleted = _delete_rows(cur, workspace_id, provider_id)
    return _tombstone(cur, workspace_id, provider_id, deleted, deleted_at or _now())


def _catalog_states(catalog: Catalog) -> dict[str, Row]:
    with catalog.read() as conn:
        rows = conn.execute("SELECT id, workspace_id, deleted_at FROM providers").fetchall()
    return {row["id"]: row for row in rows}


def unfinished_deletions(warehouse: Warehouse, catalog: Catalog) -> list[Tombstone]:
    """Tombstoned providers the catalog still has live: deletions a crash cut after the warehouse commit."""
    with warehouse.cursor() as cur:
        tombstones = [
            _tombstone_of(row) for row in cur.execute(_TOMBSTONES + " ORDER BY deleted_at").fetchall()
        ]
    states = _catalog_states(catalog)
    return [
        t
        for t in tombstones
        if t.provider_id in states
        and states[t.provider_id]["workspace_id"] == t.workspace_id
        and states[t.provider_id]["deleted_at"] is None
    ]


def delete_leftovers(warehouse: Warehouse) -> int:
    """Delete every row a tombstoned provider still has and fail its open batches, in one transaction.

    Rows can outlive a deletion only as staged rows written while it ran (a file import's statement commits
    outside the writer lock) whose batch the crash kept from dropping them; they were never live.
    """
    with warehouse.transaction() as cur:
        ids = [row[0] for row in cur.execute("SELECT provider_id FROM deleted_providers").fetchall()]
        if not ids:
            return 0
        deleted = 0
        for statement in _DELETE_ANY.values():
            found = cur.execute(statement, [ids]).fetchone()
            deleted += int(found[0]) if found else 0
        cur.execute(
            "UPDATE batches SET status = 'failed', failure_reason = ?, updated_at = now()::TIMESTAMP,"
            " expires_at = NULL WHERE list_contains(?, provider_id) AND status IN ('received', 'validating')",
            [FAILURE_REASON, ids],
        )
    return deleted


def untombstoned_deletions(warehouse: Warehouse, catalog: Catalog) -> list[tuple[str, str, str]]:
    """(workspace, provider, deletedAt) of providers the catalog has deleted that have no tombstone.

    Deletions made before tombstones existed: a crash there could leave the provider's rows behind.
    """
    with warehouse.cursor() as cur:
        tombstoned = {row[0] for row in cur.execute("SELECT provider_id FROM deleted_providers").fetchall()}
    return [
        (row["workspace_id"], provider_id, row["deleted_at"])
        for provider_id, row in sorted(_catalog_states(catalog).items())
        if row["deleted_at"] is not None and provider_id not in tombstoned
    ]


def tombstone_deleted(
    warehouse: Warehouse, workspace_id: str, provider_id: str, deleted_at: str
) -> Tombstone:
    """Delete whatever rows a provider the catalog has deleted still has, and tombstone it, atomically."""
    try:
        at: datetime | None = datetime.fromisoformat(deleted_at).astimezone(UTC).replace(tzinfo=None)
    except ValueError:
        at = None  # not a time the catalog wrote: the tombstone takes now
    return tombstone_provider(warehouse, workspace_id, provider_id, at)


def _now() -> datetime:
    # Naive UTC with the catalog's microsecond precision, so the tombstone and the catalog agree exactly.
    return datetime.now(UTC).replace(tzinfo=None)
