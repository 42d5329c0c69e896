"""focusbase CLI: `providers create|list|rotate-key`, against the data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from focusbase.cli import app
from focusbase.cli.keys import (
    DATA_DIR_HELP,
    WORKSPACE_HELP,
    existing_workspaces,
    fail,
    open_catalog,
    resolve_workspace,
)
from focusbase.config import Settings
from focusbase.storage import Catalog
from focusbase.tenancy.providers import (
    InvalidProvider,
    Provider,
    create_provider,
    get_provider,
    ingest_url,
    list_providers,
    rotate_ingest_key,
)
from focusbase.tenancy.workspaces import list_workspaces

providers_app = typer.Typer(
    help="Providers: create one (with its ingest key), list them, rotate an ingest key.", no_args_is_help=True
)
app.add_typer(providers_app, name="providers")


def _base_url() -> str:
    return Settings().base_url


def _find(catalog: Catalog, provider_id: str) -> Provider:
    for ws in list_workspaces(catalog):
        provider = get_provider(catalog, ws.id, provider_id)
        if provider is not None:
            return provider
    raise fail(f"no provider {provider_id}")


@providers_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Display name (default ProviderName of its rows).")],
    currency: Annotated[
        str, typer.Option("--currency", help="Default BillingCurrency, ISO 4217 (e.g. USD).")
    ],
    workspace: Annotated[str | None, typer.Option("--workspace", help=WORKSPACE_HELP)] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the provider and its ingest key as JSON.")
    ] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help=DATA_DIR_HELP)] = None,
) -> None:
    """Create a provider and print its ingest key once."""
    catalog = open_catalog(data_dir)
    ws = resolve_workspace(catalog, workspace)
    try:
        created = create_provider(catalog, ws.id, name=name, default_currency=currency)
    except InvalidProvider as exc:
        raise fail(str(exc)) from exc
    provider = created.provider
    url = ingest_url(_base_url(), provider.id)
    if as_json:
        body = {
            "id": provider.id,
            "name": provider.name,
            "defaultCurrency": provider.default_currency,
            "createdAt": provider.created_at,
            "ingestKey": created.ingest_key.key,
            "ingestUrl": url,
        }
        typer.echo(orjson.dumps(body).decode())
        return
    typer.echo(
        f"Created provider {provider.id} ({provider.name}, {provider.default_currency}) in {ws.name!r}."
    )
    typer.echo(f"Ingest URL: {url}")
    typer.echo(f"Ingest key (shown once): {created.ingest_key.key}")


@providers_app.command("list")
def list_command(
    workspace: Annotated[
        str | None, typer.Option("--workspace", help="Only this workspace [default: all].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help=DATA_DIR_HELP)] = None,
) -> None:
    """List providers (not deleted ones)."""
    catalog = open_catalog(data_dir)
    spaces = existing_workspaces(catalog, workspace)
    rows = [
        {
            "id": p.id,
            "workspace": ws.name,
            "name": p.name,
            "defaultCurrency": p.default_currency,
            "createdAt": p.created_at,
            "ingestKeyId": p.ingest_key_id,
        }
        for ws in spaces
        for p in list_providers(catalog, ws.id)
    ]
    if as_json:
        typer.echo(orjson.dumps(rows).decode())
        return
    for row in rows:
        typer.echo(
            f"{row['id']}  {row['workspace']}  {row['name']!r}  {row['defaultCurrency']}"
            f"  created {row['createdAt']}"
        )


@providers_app.command("rotate-key")
def rotate_key(
    provider_id: Annotated[str, typer.Argument(help="The provider id (prv_...).")],
    as_json: Annotated[bool, typer.Option("--json", help='Print {"id": ..., "key": ...}.')] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help=DATA_DIR_HELP)] = None,
) -> None:
    """Issue a new ingest key for a provider; the old key stops working at once."""
    catalog = open_catalog(data_dir)
    provider = _find(catalog, provider_id)
    new_key = rotate_ingest_key(catalog, provider.workspace_id, provider.id)
    if new_key is None:
        raise fail(f"no provider {provider_id}")
    if as_json:
        typer.echo(orjson.dumps({"id": new_key.id, "key": new_key.key}).decode())
        return
    typer.echo(f"New ingest key for {provider.id} (the previous one no longer works): {new_key.key}")
