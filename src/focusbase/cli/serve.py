"""focusbase CLI: `serve` runs the HTTP server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from focusbase.cli import app
from focusbase.config import RateLimitStoreUnusable, Settings, uses_catalog_rate_limits


@app.command("serve")
def serve(
    host: Annotated[
        str | None,
        typer.Option("--host", help="Interface to listen on [env FOCUSBASE_HOST; default 127.0.0.1]."),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="TCP port [env FOCUSBASE_PORT; default 8000].")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory [env FOCUSBASE_DATA_DIR; default ./data]."),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level", help="debug, info, warning or error [env FOCUSBASE_LOG_LEVEL; default info]."
        ),
    ] = None,
) -> None:
    """Run the server: migrations are applied on start; logs are JSON lines on stderr."""
    import uvicorn

    from focusbase.app import create_app
    from focusbase.export.service import ExportDirUnusable, check_exports_dir
    from focusbase.observability import configure_logging, logging_config
    from focusbase.storage import DataDirLocked, Warehouse

    overrides: dict[str, Any] = {"host": host, "port": port, "data_dir": data_dir, "log_level": log_level}
    settings = Settings(**{name: value for name, value in overrides.items() if value is not None})
    configure_logging(settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # Fail with a clear message (not a traceback) when another server holds this data directory.
        Warehouse.in_dir(settings.data_dir).close()
    except DataDirLocked as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        check_exports_dir(settings)
        uses_catalog_rate_limits(settings)
    except (ExportDirUnusable, RateLimitStoreUnusable) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=logging_config(settings.log_level),
        access_log=False,  # the request middleware writes one JSON line per request
        server_header=False,
    )
