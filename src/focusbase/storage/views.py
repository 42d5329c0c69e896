"""SQL for saved explorer views (catalog table saved_views)."""

from __future__ import annotations

from typing import Any

import orjson

from focusbase.storage.catalog import Catalog, Row, utcnow


class NameTaken(Exception):
    """Another view of the workspace has this name."""


class InUse(Exception):
    """Budgets measure this view: `budgets` lists their (id, name)."""

    def __init__(self, budgets: list[tuple[str, str]]) -> None:
        super().__init__(", ".join(budget_id for budget_id, _ in budgets))
        self.budgets = budgets


def count_views(catalog: Catalog, workspace_id: str) -> int:
    """How many views a workspace has."""
    with catalog.read() as conn:
        row = conn.execute(
            "SELECT count(*) FROM saved_views WHERE workspace_id = ?", (workspace_id,)
        ).fetchone()
    return int(row[0])


def insert_view(
    catalog: Catalog, *, view_id: str, workspace_id: str, name: str, query: dict[str, Any], key_id: str | None
) -> Row:
    """Store a new view; NameTaken when the workspace already has one of this name."""
    now = utcnow()
    try:
        with catalog.transaction() as tx:
            tx.execute(
                "INSERT INTO saved_views (id, workspace_id, name, query, key_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (view_id, workspace_id, name, orjson.dumps(query).decode(), key_id, now, now),
            )
            row: Row = tx.execute("SELECT * FROM saved_views WHERE id = ?", (view_id,)).fetchone()
            return row
    except catalog.integrity_errors as exc:
        raise NameTaken(name) from exc


def get_view(catalog: Catalog, workspace_id: str, view_id: str) -> Row | None:
    """A view of this workspace, or None."""
    with catalog.read() as conn:
        row: Row | None = conn.execute(
            "SELECT * FROM saved_views WHERE id = ? AND workspace_id = ?", (view_id, workspace_id)
        ).fetchone()
        return row


def list_views(catalog: Catalog, workspace_id: str) -> list[Row]:
    """A workspace's views by name."""
    with catalog.read() as conn:
        return conn.execute(
            "SELECT * FROM saved_views WHERE workspace_id = ? ORDER BY name, id", (workspace_id,)
        ).fetchall()


def update_view(
    catalog: Catalog, workspace_id: str, view_id: str, *, name: str | None, query: dict[str, Any] | None
) -> Row | None:
    """Change a view's name and/or query; None when there is no such view, NameTaken on a clash."""
    text = None if query is None else orjson.dumps(query).decode()
    try:
        with catalog.transaction() as tx:
            cur = tx.execute(
                "UPDATE saved_views SET name = coalesce(?, name), query = coalesce(?, query), updated_at = ?"
                " WHERE id = ? AND workspace_id = ?",
                (name, text, utcnow(), view_id, workspace_id),
            )
            if cur.rowcount != 1:
                return None
            row: Row = tx.execute("SELECT * FROM saved_views WHERE id = ?", (view_id,)).fetchone()
            return row
    except catalog.integrity_errors as exc:
        raise NameTaken(name or "") from exc


def delete_view(catalog: Catalog, workspace_id: str, view_id: str) -> bool:
    """Delete a view; False when there was none, InUse while budgets measure it (checked in the same
    transaction, so a budget created meanwhile is never left on a deleted view)."""
    with catalog.transaction() as tx:
        users = tx.execute(
            "SELECT id, name FROM budgets WHERE workspace_id = ? AND scope_kind = 'view' AND scope_id = ?"
            " ORDER BY name",
            (workspace_id, view_id),
        ).fetchall()
        if users:
            raise InUse([(str(row[0]), str(row[1])) for row in users])
        cur = tx.execute("DELETE FROM saved_views WHERE id = ? AND workspace_id = ?", (view_id, workspace_id))
        return cur.rowcount > 0


def view_ids(catalog: Catalog, workspace_id: str) -> list[str]:
    """The ids of a workspace's views."""
    with catalog.read() as conn:
        rows = conn.execute("SELECT id FROM saved_views WHERE workspace_id = ? ORDER BY id", (workspace_id,))
        return [str(row[0]) for row in rows.fetchall()]
