"""focusbase CLI: `push FILE --provider ID` streams a CSV/Parquet/JSON file as a multi-part batch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from focusbase.cli import app
from focusbase.config import Settings
from focusbase.ingest.push_client import PushClient, PushError, count_rows, file_kind, push_file


def summary_table(summary: dict[str, Any]) -> Table:
    """The committed batch as a table: counts, what it replaced and sums per currency."""
    table = Table(title=f"batch {summary.get('batchId')}", show_header=False)
    table.add_column("field")
    table.add_column("value", justify="right")
    for label, key in (
        ("status", "status"),
        ("rows received", "rowsReceived"),
        ("line items created", "lineItemsCreated"),
        ("rows rejected", "rowsRejected"),
    ):
        table.add_row(label, str(summary.get(key)))
    replaced = summary.get("replaced") or {}
    table.add_row("rows replaced", str(replaced.get("rows", 0)))
    for currency, sums in sorted((summary.get("sums") or {}).items()):
        for column, value in sums.items():
            if column != "rows":
                table.add_row(f"{column} {currency}", str(value))
    for currency, sums in sorted((replaced.get("sums") or {}).items()):
        for column, value in sums.items():
            if column != "rows":
                table.add_row(f"replaced {column} {currency}", str(value))
    return table


def _errors_table(errors: list[dict[str, Any]], total: int) -> Table:
    table = Table(title=f"row errors (first {len(errors)} of {total})")
    for name in ("row", "column", "code", "message"):
        table.add_column(name)
    for error in errors[:20]:
        table.add_row(*(str(error.get(name) or "") for name in ("row", "column", "code", "message")))
    return table


@app.command("push")
def push(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A .csv, .parquet, .json or .ndjson file.")
    ],
    provider: Annotated[str, typer.Option("--provider", help="The provider id (prv_...), the connectionId.")],
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="replace_days (default), replace_range, replace_months, append."),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="replace_range: inclusive start (ISO 8601).")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="replace_range: exclusive end (ISO 8601).")] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Server URL [default: FOCUSBASE_PUBLIC_URL or http://host:port]."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", envvar="FOCUSBASE_KEY", help="Ingest or admin key [env FOCUSBASE_KEY]."),
    ] = None,
    part_rows: Annotated[int, typer.Option("--part-rows", min=1, help="Rows per part.")] = 50_000,
    dataset: Annotated[
        str, typer.Option("--dataset", help="CostAndUsage or ContractCommitment.")
    ] = "CostAndUsage",
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Store the valid rows, report the rest.")
    ] = False,
    gzip_parts: Annotated[bool, typer.Option("--gzip", help="Send parts gzip-compressed.")] = False,
    parallel: Annotated[int, typer.Option("--parallel", min=1, max=8, help="Parts sent at once.")] = 2,
) -> None:
    """Push a file to the server as one multi-part batch with a progress bar, then commit it."""
    console = Console(stderr=True)
    if not key:
        console.print("error: pass --key or set FOCUSBASE_KEY (the provider's ingest key, or an admin key)")
        raise typer.Exit(2)
    try:
        file_kind(file)
        total = count_rows(file)
    except (ValueError, OSError) as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    client = PushClient(server or Settings().base_url, key)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"pushing {file.name}", total=total)

            def advance(part: dict[str, Any]) -> None:
                progress.advance(task, int(part["rowsReceived"]))

            summary = push_file(
                client,
                file,
                provider,
                mode=mode,
                start=start,
                end=end,
                dataset=dataset,
                part_rows=part_rows,
                allow_partial=allow_partial,
                compress=gzip_parts,
                parallel=parallel,
                on_part=advance,
            )
    except PushError as exc:
        console.print(f"error: {exc}")
        errors = exc.body.get("errors")
        if errors:
            console.print(_errors_table(errors, int(exc.body.get("errorCount", len(errors)))))
        raise typer.Exit(1) from exc
    except (httpx.HTTPError, ValueError, OSError) as exc:
        console.print(f"error: {exc}")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    Console().print(summary_table(summary))
