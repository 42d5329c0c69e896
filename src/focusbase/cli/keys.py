"""focusbase CLI: `keys create|list|revoke`, against the data directory (also while the server runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from focusbase.cli import app
from focusbase.config import Settings
from focusbase.storage import Catalog
from focusbase.storage import open_catalog as open_configured_catalog
from focusbase.tenancy.apikeys import KeyRequestInvalid, create_api_key
from focusbase.tenancy.keys import get_key, list_keys, revoke_key
from focusbase.tenancy.principal import Principal
from focusbase.tenancy.workspaces import (
    Workspace,
    ensure_workspace,
    find_workspace,
    get_workspace,
    list_workspaces,
)

keys_app = typer.Typer(
    help="API keys: create (shown once), list (no secrets), revoke. Safe while the server runs.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

DATA_DIR_HELP = "Data directory [env FOCUSBASE_DATA_DIR; default ./data]."
WORKSPACE_HELP = "Workspace name; created when it does not exist [default: default]."


def open_catalog(data_dir: Path | None) -> Catalog:
    """The configured catalog (SQLite in WAL mode or PostgreSQL, so a running server is no obstacle)."""
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    return open_configured_catalog(settings)


def operator(workspace: Workspace) -> Principal:
    """Whoever runs the CLI: an admin of the workspace with no provider limit."""
    return Principal(
        key_id="cli", workspace_id=workspace.id, kind="api", scopes=frozenset({"admin"}), provider_ids=None
    )


def fail(message: str) -> typer.Exit:
    """Print an error on stderr; raise the returned Exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def resolve_workspace(catalog: Catalog, name: str | None) -> Workspace:
    """The named workspace (created on first use), or exit with the reason."""
    try:
        return ensure_workspace(catalog, name)
    except ValueError as exc:
        raise fail(str(exc)) from exc


def existing_workspaces(catalog: Catalog, name: str | None) -> list[Workspace]:
    """The named workspace (exit when there is none), or every workspace when no name is given."""
    if name is None:
        return list_workspaces(catalog)
    found = find_workspace(catalog, name)
    if found is None:
        raise fail(f"no workspace named {name!r}")
    return [found]


@keys_app.command("create")
def create(
    scope: Annotated[list[str], typer.Option("--scope", help="admin, read or ingest; repeat for several.")],
    name: Annotated[str | None, typer.Option("--name", help="What the key is for.")] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help=WORKSPACE_HELP)] = None,
    provider: Annotated[
        list[str] | None,
        typer.Option("--provider", help="Limit the key to this provider id; repeat for several."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"id": ..., "key": ...}.')] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help=DATA_DIR_HELP)] = None,
) -> None:
    """Create an API key and print it once: only its hash is stored."""
    catalog = open_catalog(data_dir)
    ws = resolve_workspace(catalog, workspace)
    try:
        new = create_api_key(
            catalog,
            operator(ws),
            name=name or f"{'+'.join(scope)} key",
            scopes=scope,
            provider_ids=provider or None,
        )
    except KeyRequestInvalid as exc:
        raise fail(str(exc)) from exc
    if as_json:
        typer.echo(orjson.dumps({"id": new.id, "key": new.key}).decode())
        return
    typer.echo(
        f"Created key {new.id} ({', '.join(new.scopes)}) in workspace {ws.name!r}."
        " Store it now: it is not shown again.",
        err=True,
    )
    typer.echo(new.key)


@keys_app.command("list")
def list_command(
    workspace: Annotated[
        str | None, typer.Option("--workspace", help="Only this workspace [default: all].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help=DATA_DIR_HELP)] = None,
) -> None:
    """List keys without their secrets."""
    catalog = open_catalog(data_dir)
    spaces = existing_workspaces(catalog, workspace)
    keys = [key for ws in spaces for key in list_keys(catalog, ws.id)]
    if as_json:
        typer.echo(orjson.dumps(keys).decode())
        return
    names = {ws.id: ws.name for ws in spaces}
    for key in keys:
        state = f"revoked {key['revokedAt']}" if key["revokedAt"] else "active"
        limit = ",".join(key["providerIds"]) if key["providerIds"] is not None else "all providers"
        typer.echo(
            f"{key['id']}  {names.get(key['workspaceId'], key['workspaceId'])}  {key['kind']}"
            f"  {','.join(key['scopes'])}  {limit}  {key['name']!r}  created {key['createdAt']}  {state}"
        )


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (key_...), as `keys list` shows it.")],
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help=DATA_DIR_HELP)] = None,
) -> None:
    """Revoke a key: it stops working at once, also for a running server."""
    catalog = open_catalog(data_dir)
    key = get_key(catalog, key_id)
    if key is None or key["revokedAt"] is not None or not revoke_key(catalog, key["workspaceId"], key_id):
        raise fail(f"no active key {key_id}")
    ws = get_workspace(catalog, key["workspaceId"])
    typer.echo(f"Revoked {key_id} ({key['name']!r}) in workspace {ws.name if ws else key['workspaceId']!r}.")
