"""SQL for workspaces (tenants) in the catalog."""

from __future__ import annotations

from focusbase.storage.catalog import Catalog, Row, utcnow


def get_workspace(catalog: Catalog, workspace_id: str) -> Row | None:
    """The workspace row with this id, or None."""
    with catalog.read() as conn:
        row: Row | None = conn.execute("SELECT * FROM workspaces WHERE id = ?", (workspace_id,)).fetchone()
        return row


def get_workspace_by_name(catalog: Catalog, name: str) -> Row | None:
    """The workspace row with this name, or None."""
    with catalog.read() as conn:
        row: Row | None = conn.execute("SELECT * FROM workspaces WHERE name = ?", (name,)).fetchone()
        return row


def ensure_workspace(catalog: Catalog, *, workspace_id: str, name: str) -> Row:
    """The workspace named `name`, inserted with `workspace_id` when no workspace has that name yet."""
    with catalog.transaction() as tx:
        tx.execute(
            "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (workspace_id, name, utcnow()),
        )
        row: Row = tx.execute("SELECT * FROM workspaces WHERE name = ?", (name,)).fetchone()
        return row


def list_workspaces(catalog: Catalog) -> list[Row]:
    """Every workspace, oldest first."""
    with catalog.read() as conn:
        return conn.execute("SELECT * FROM workspaces ORDER BY created_at, id").fetchall()
