"""Saved explorer views: a workspace's named queries. A view is run with the caller's own scope."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from focusbase.analytics.model import ExplorerQuery, QueryError, parse_query
from focusbase.config import Settings
from focusbase.storage import Catalog
from focusbase.storage import views as store

MAX_NAME = 200
STORED_MAX_GROUPS = 2**31 - 1


class ViewError(Exception):
    """A view request that cannot be done: HTTP status, error code, message and the field at fault."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, details: object = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details if details is not None else field


@dataclass(frozen=True, slots=True)
class View:
    """A saved view."""

    id: str
    workspace_id: str
    name: str
    query: ExplorerQuery
    created_at: str
    updated_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "workspaceId": self.workspace_id,
            "query": self.query.as_json(),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


def _view(row: Any) -> View:  # a catalog row (sqlite3.Row)
    # Checked when it was saved; a lower explorer_max_groups since then must not make the view unreadable
    # (its results stay bounded by explorer_max_rows).
    query = parse_query(orjson.loads(row["query"]), max_groups=STORED_MAX_GROUPS)
    return View(row["id"], row["workspace_id"], row["name"], query, row["created_at"], row["updated_at"])


def _name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ViewError(400, "invalid_query", f"name must be 1 to {MAX_NAME} characters", "name")
    return name.strip()


def _query(body: object, settings: Settings) -> ExplorerQuery:
    try:
        return parse_query(body, max_groups=settings.explorer_max_groups)
    except QueryError as exc:
        raise ViewError(400, "invalid_query", f"invalid query: {exc}", "query." + exc.field) from exc


def create_view(
    catalog: Catalog, settings: Settings, workspace_id: str, name: object, query: object, key_id: str | None
) -> View:
    """Save a named query for a workspace."""
    clean, parsed = _name(name), _query(query, settings)
    if store.count_views(catalog, workspace_id) >= settings.max_saved_views:
        raise ViewError(
            409, "view_limit", f"the workspace already has {settings.max_saved_views} saved views"
        )
    try:
        row = store.insert_view(
            catalog,
            view_id="view_" + secrets.token_hex(8),
            workspace_id=workspace_id,
            name=clean,
            query=parsed.as_json(),
            key_id=key_id,
        )
    except store.NameTaken as exc:
        raise ViewError(409, "view_name_taken", f"a view named {clean!r} exists already", "name") from exc
    return _view(row)


def get_view(catalog: Catalog, settings: Settings, workspace_id: str, view_id: str) -> View:
    """A view of the workspace; ViewError 404 otherwise."""
    row = store.get_view(catalog, workspace_id, view_id)
    if row is None:
        raise ViewError(404, "not_found", f"view {view_id} not found")
    return _view(row)


def list_views(catalog: Catalog, settings: Settings, workspace_id: str) -> list[View]:
    """The workspace's views, by name."""
    return [_view(row) for row in store.list_views(catalog, workspace_id)]


def update_view(
    catalog: Catalog,
    settings: Settings,
    workspace_id: str,
    view_id: str,
    *,
    name: object = None,
    query: object = None,
) -> View:
    """Rename a view and/or replace its query."""
    clean = None if name is None else _name(name)
    parsed = None if query is None else _query(query, settings).as_json()
    try:
        row = store.update_view(catalog, workspace_id, view_id, name=clean, query=parsed)
    except store.NameTaken as exc:
        raise ViewError(409, "view_name_taken", f"a view named {clean!r} exists already", "name") from exc
    if row is None:
        raise ViewError(404, "not_found", f"view {view_id} not found")
    return _view(row)


def delete_view(catalog: Catalog, workspace_id: str, view_id: str, *, show_budgets: bool = True) -> None:
    """Delete a view; ViewError 404 when there is none, 409 view_in_use while budgets measure it (naming
    them when `show_budgets`: keys limited to some providers may not read budgets).

    Its anomalies stay, with their states, as the record of what was found; none are detected after.
    """
    try:
        deleted = store.delete_view(catalog, workspace_id, view_id)
    except store.InUse as exc:
        count = len(exc.budgets)
        if not show_budgets:
            raise ViewError(
                409,
                "view_in_use",
                f"{count} budget(s) measure view {view_id}: they must be deleted or moved first",
                details={"budgets": count},
            ) from exc
        names = ", ".join(repr(name) for _, name in exc.budgets[:5])
        raise ViewError(
            409,
            "view_in_use",
            f"budgets measure view {view_id} ({names}{', ...' if count > 5 else ''}): "
            "delete them or move them to another scope first",
            details={"budgets": [{"id": i, "name": n} for i, n in exc.budgets]},
        ) from exc
    if not deleted:
        raise ViewError(404, "not_found", f"view {view_id} not found")
