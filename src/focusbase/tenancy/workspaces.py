"""Workspaces (tenants): every provider, key, batch and row belongs to exactly one."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from focusbase.storage import Catalog
from focusbase.storage import workspaces as workspace_store
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Workspace:
    """A tenant."""

    id: str
    name: str
    created_at: str


def _workspace(row: Any) -> Workspace:
    return Workspace(id=row["id"], name=row["name"], created_at=row["created_at"])


def get_workspace(catalog: Catalog, workspace_id: str) -> Workspace | None:
    """The workspace with this id, or None."""
    row = workspace_store.get_workspace(catalog, workspace_id)
    return _workspace(row) if row is not None else None


def find_workspace(catalog: Catalog, name: str) -> Workspace | None:
    """The workspace with this name, or None (never creates one)."""
    row = workspace_store.get_workspace_by_name(catalog, name.strip())
    return _workspace(row) if row is not None else None


def ensure_workspace(catalog: Catalog, name: str | None) -> Workspace:
    """The workspace with this name, created when it does not exist yet (None: the default workspace)."""
    name = DEFAULT_WORKSPACE_NAME if name is None else name.strip()
    if not _NAME.match(name):
        raise ValueError(
            f"invalid workspace name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a"
            " letter or digit"
        )
    existing = workspace_store.get_workspace_by_name(catalog, name)
    if existing is not None:
        return _workspace(existing)
    new_id = DEFAULT_WORKSPACE_ID if name == DEFAULT_WORKSPACE_NAME else "ws_" + secrets.token_hex(6)
    return _workspace(workspace_store.ensure_workspace(catalog, workspace_id=new_id, name=name))


def list_workspaces(catalog: Catalog) -> list[Workspace]:
    """Every workspace, oldest first."""
    return [_workspace(row) for row in workspace_store.list_workspaces(catalog)]
