"""SQL for API keys in the catalog."""

from __future__ import annotations

import sqlite3

from focusbase.storage.catalog import Catalog, utcnow


def insert_key(
    catalog: Catalog,
    *,
    key_id: str,
    workspace_id: str,
    name: str,
    kind: str,
    scopes: str,
    provider_ids: str | None,
    secret_hash: str,
) -> None:
    with catalog.transaction() as tx:
        if tx.execute("SELECT 1 FROM workspaces WHERE id = ?", (workspace_id,)).fetchone() is None:
            raise LookupError(f"no workspace {workspace_id!r}")
        tx.execute(
            "INSERT INTO api_keys (id, workspace_id, name, kind, scopes, provider_ids, secret_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key_id, workspace_id, name, kind, scopes, provider_ids, secret_hash, utcnow()),
        )


def get_key(catalog: Catalog, key_id: str) -> sqlite3.Row | None:
    with catalog.read() as conn:
        row: sqlite3.Row | None = conn.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        return row


def list_keys(catalog: Catalog, workspace_id: str) -> list[sqlite3.Row]:
    with catalog.read() as conn:
        return conn.execute(
            "SELECT * FROM api_keys WHERE workspace_id = ? ORDER BY created_at, id", (workspace_id,)
        ).fetchall()


def revoke_key(catalog: Catalog, workspace_id: str, key_id: str) -> bool:
    with catalog.transaction() as tx:
        cur = tx.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND workspace_id = ? AND revoked_at IS NULL",
            (utcnow(), key_id, workspace_id),
        )
        return cur.rowcount == 1
