"""SQL for workspaces (tenants) in the catalog."""

from __future__ import annotations

import sqlite3

from focusbase.storage.catalog import Catalog, utcnow


def get_workspace(catalog: Catalog, workspace_id: str) -> sqlite3.Row | None:
    """The workspace row with this id, or None."""
    with catalog.read() as conn:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM workspaces WHERE id = ?", (workspace_id,)
        ).fetchone()
        return row


def get_workspace_by_name(catalog: Catalog, name: str) -> sqlite3.Row | None:
    """The workspace row with this name, or None."""
    with catalog.read() as conn:
        row: sqlite3.Row | None = conn.execute("SELECT * FROM workspaces WHERE name = ?", (name,)).fetchone()
        return row


def ensure_workspace(catalog: Catalog, *, workspace_id: str, name: str) -> sqlite3.Row:
    """The workspace named `name`, inserted with `workspace_id` when no workspace has that name yet."""
    with catalog.transaction() as tx:
        tx.execute(
            "INSERT OR IGNORE INTO workspaces (id, name, created_at) VALUES (?, ?, ?)",
            (workspace_id, name, utcnow()),
        )
        row: sqlite3.Row = tx.execute("SELECT * FROM workspaces WHERE name = ?", (name,)).fetchone()
        return row


def list_workspaces(catalog: Catalog) -> list[sqlite3.Row]:
    """Every workspace, oldest first."""
    with catalog.read() as conn:
        return conn.execute("SELECT * FROM workspaces ORDER BY created_at, id").fetchall()
