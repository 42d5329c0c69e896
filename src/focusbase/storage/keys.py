"""SQL for API keys in the catalog."""

from __future__ import annotations

from dataclasses import dataclass

from focusbase.storage.catalog import Catalog, Connection, Row, utcnow


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """The stored form of a key: everything but the secret, which is kept only as a hash."""

    key_id: str
    workspace_id: str
    name: str
    kind: str
    scopes: str  # JSON array
    provider_ids: str | None  # JSON array or None
    secret_hash: str


def insert_key_in(tx: Connection, record: KeyRecord) -> None:
    """Insert a key inside an open catalog transaction; LookupError when the workspace does not exist."""
    if tx.execute("SELECT 1 FROM workspaces WHERE id = ?", (record.workspace_id,)).fetchone() is None:
        raise LookupError(f"no workspace {record.workspace_id!r}")
    tx.execute(
        "INSERT INTO api_keys (id, workspace_id, name, kind, scopes, provider_ids, secret_hash, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.key_id,
            record.workspace_id,
            record.name,
            record.kind,
            record.scopes,
            record.provider_ids,
            record.secret_hash,
            utcnow(),
        ),
    )


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
        insert_key_in(tx, KeyRecord(key_id, workspace_id, name, kind, scopes, provider_ids, secret_hash))


def get_key(catalog: Catalog, key_id: str) -> Row | None:
    with catalog.read() as conn:
        row: Row | None = conn.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        return row


def list_keys(catalog: Catalog, workspace_id: str) -> list[Row]:
    with catalog.read() as conn:
        return conn.execute(
            "SELECT * FROM api_keys WHERE workspace_id = ? ORDER BY created_at, id", (workspace_id,)
        ).fetchall()


def revoke_key(catalog: Catalog, workspace_id: str, key_id: str) -> bool:
    with catalog.transaction() as tx:
        return revoke_key_in(tx, workspace_id, key_id)


def revoke_key_in(tx: Connection, workspace_id: str, key_id: str) -> bool:
    """Revoke inside an open transaction; False when the workspace has no such active key."""
    cur = tx.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND workspace_id = ? AND revoked_at IS NULL",
        (utcnow(), key_id, workspace_id),
    )
    return cur.rowcount == 1


def touch_key(catalog: Catalog, key_id: str, *, older_than: str) -> bool:
    """Record a use of the key when its last recorded use is before `older_than` (ISO text); best effort."""
    try:
        with catalog.transaction() as tx:
            cur = tx.execute(
                "UPDATE api_keys SET last_used_at = ?"
                " WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                (utcnow(), key_id, older_than),
            )
            return cur.rowcount == 1
    except catalog.busy_errors:
        return False  # the catalog is busy; bookkeeping must never fail a request
