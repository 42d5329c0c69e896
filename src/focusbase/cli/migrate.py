"""focusbase CLI: `migrate-storage`, copying an embedded data directory into a scale-out deployment."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from focusbase.cli import app
from focusbase.cli.keys import DATA_DIR_HELP, fail
from focusbase.config import Settings
from focusbase.focus import Dataset
from focusbase.storage import Catalog, DataDirLocked, Warehouse
from focusbase.storage.catalog import CATALOG_FILE
from focusbase.storage.catalog_copy import CatalogCopyRefused, catalog_tables, copy_catalog, count_rows
from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_client import WarehouseUrlInvalid, open_client
from focusbase.storage.fx_copy import compare_fx_rates, copy_fx_rates
from focusbase.storage.history_copy import copy_history, history_counts
from focusbase.storage.urls import redact, scrub
from focusbase.storage.warehouse import WAREHOUSE_FILE
from focusbase.storage.warehouse_copy import (
    SUMMED_BY,
    SourceBatch,
    WarehouseCopyRefused,
    compare_totals,
    copy_warehouse,
    source_tombstones,
    source_totals,
    target_tombstones,
    target_totals,
)

WAREHOUSE_URL_HELP = (
    "Target ClickHouse warehouse: chdb:///path[?database=db] (embedded chDB),"
    " clickhouse://user:pass@host:port/db or http(s)://... (a server over HTTP)."
)


@app.command("migrate-storage")
def migrate_storage(
    warehouse_url: Annotated[str, typer.Option("--warehouse-url", help=WAREHOUSE_URL_HELP)],
    catalog_url: Annotated[
        str | None,
        typer.Option("--catalog-url", help="Target PostgreSQL catalog (default: FOCUSBASE_CATALOG_URL)."),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows read and staged at a time (bounds memory).")
    ] = 100_000,
    verify_only: Annotated[
        bool, typer.Option("--verify-only", help="Only compare source and target; copy nothing.")
    ] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help=DATA_DIR_HELP)] = None,
) -> None:
    """Copy an embedded data directory into a PostgreSQL catalog and a ClickHouse warehouse, then verify."""
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    source_dir = settings.data_dir
    url = catalog_url or settings.catalog_url
    if not url:
        raise fail("name the target catalog: --catalog-url postgresql://... (or FOCUSBASE_CATALOG_URL)")
    if not url.startswith(("postgresql://", "postgres://")):
        raise fail(f"the target catalog must be a postgresql:// URL, not {redact(url)!r}")
    if not (source_dir / WAREHOUSE_FILE).is_file() or not (source_dir / CATALOG_FILE).is_file():
        raise fail(f"{source_dir} is not a focusbase data directory (no {WAREHOUSE_FILE} and {CATALOG_FILE})")
    console = Console(soft_wrap=True)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # a log or a pipe gets the whole table, unfolded
    opened: list[Any] = []
    try:
        try:
            # First: DuckDB's file lock refuses while the server runs, and keeps it from starting meanwhile.
            warehouse = Warehouse.in_dir(
                source_dir, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
            )
        except DataDirLocked as exc:
            raise fail(f"{exc}; stop the server before migrating") from exc
        opened.append(warehouse)
        source = Catalog.in_dir(source_dir)
        opened.append(source)
        target, clickhouse = _open_targets(url, warehouse_url, opened)
        console.print(
            f"source {source_dir} -> catalog {redact(url)}, warehouse {redact(warehouse_url)}",
            highlight=False,
        )
        if not verify_only:
            _copy(console, source, target, warehouse, clickhouse, chunk_rows)
        mismatches = _verify(console, source, target, warehouse, clickhouse)
    finally:
        for store in reversed(opened):
            store.close()
    if mismatches:
        for line in mismatches:
            typer.echo(f"mismatch: {line}", err=True)
        raise typer.Exit(1)
    console.print("verified: the target matches the source", highlight=False)


def _open_targets(url: str, warehouse_url: str, opened: list[Any]) -> tuple[Catalog, ClickHouseWarehouse]:
    try:
        # Imported here: psycopg is the optional [scale] extra, never loaded by the embedded profile.
        from focusbase.storage.postgres import CatalogUnavailable, PostgresCatalog
    except ImportError as exc:
        raise fail(f"{exc}: install the scale-out extra, pip install 'focusbase[scale]'") from exc

    try:
        target = PostgresCatalog(url, pool_size=2)
    except CatalogUnavailable as exc:
        raise fail(str(exc)) from exc
    opened.append(target)
    try:
        client = open_client(warehouse_url)
    except WarehouseUrlInvalid as exc:
        raise fail(str(exc)) from exc
    except ImportError as exc:
        raise fail(f"{exc}: install the scale-out extra, pip install 'focusbase[scale]'") from exc
    except Exception as exc:  # the driver's own errors: unreachable server, bad credentials
        reason = scrub(str(exc), warehouse_url)
        raise fail(f"cannot open the warehouse {redact(warehouse_url)}: {reason}") from exc
    clickhouse = ClickHouseWarehouse(client, target)
    opened.append(clickhouse)
    return target, clickhouse


def _copy(
    console: Console,
    source: Catalog,
    target: Catalog,
    warehouse: Warehouse,
    clickhouse: ClickHouseWarehouse,
    chunk_rows: int,
) -> None:
    started = time.monotonic()
    try:
        copied = copy_catalog(source, target)
    except CatalogCopyRefused as exc:
        raise fail(f"catalog not copied: {exc}") from exc
    console.print(
        f"catalog {copied.outcome}: {sum(copied.rows.values())} rows in {len(copied.rows)} tables",
        highlight=False,
    )

    def show(batch: SourceBatch, done: int) -> None:
        kind = "" if batch.ref.dataset is Dataset.COST_AND_USAGE else " Contract Commitment"
        console.print(
            f"  {batch.ref.batch_id} ({batch.ref.provider_id}): {done}/{batch.rows}{kind} rows",
            highlight=False,
        )

    try:
        report = copy_warehouse(warehouse, clickhouse, chunk_rows=chunk_rows, progress=show)
    except WarehouseCopyRefused as exc:
        raise fail(f"warehouse not copied: {exc}") from exc
    except Exception as exc:  # an engine or network error mid-way: what is done stays done
        raise fail(
            f"the warehouse copy stopped ({type(exc).__name__}: {exc}); run the command again to resume:"
            " committed batches are skipped and a batch's staged rows are not staged twice"
        ) from exc
    try:
        fx = copy_fx_rates(warehouse, clickhouse)
    except Exception as exc:  # an engine or network error: a workspace's rates are replaced whole or not
        raise fail(
            f"the FX rates copy stopped ({type(exc).__name__}: {exc}); run the command again to resume:"
            " workspaces whose rates were copied are skipped"
        ) from exc
    console.print(
        f"warehouse: {report.batches_copied} batches copied ({report.rows_staged} Cost and Usage and"
        f" {report.commitment_rows_staged} Contract Commitment rows staged), {report.batches_skipped} already"
        f" copied; tombstones: {report.tombstones_copied} copied, {report.tombstones_skipped} already copied;"
        f" FX rates: {fx.copied} workspaces copied ({fx.rates} rates), {fx.skipped} already copied;"
        f" in {time.monotonic() - started:.1f} s",
        highlight=False,
    )
    history = copy_history(warehouse, target, clickhouse)
    console.print(
        f"history: {history.copied} batches copied ({history.closed} open ones closed as failed),"
        f" {history.already} already copied",
        highlight=False,
    )


def _verify(
    console: Console, source: Catalog, target: Catalog, warehouse: Warehouse, clickhouse: ClickHouseWarehouse
) -> list[str]:
    mismatches: list[str] = []
    tables = catalog_tables(source)
    mine = count_rows(source, tables)
    try:
        theirs = count_rows(target, tables)
    except target.busy_errors + target.integrity_errors as exc:
        raise fail(f"cannot count the target catalog's rows: {exc}") from exc
    catalog = Table(title="Catalog rows per table")
    for name in ("Table", "Source", "Target", "Match"):
        catalog.add_column(name, justify="left" if name == "Table" else "right", overflow="fold")
    for table in tables:
        same = mine[table] == theirs[table]
        catalog.add_row(table, str(mine[table]), str(theirs[table]), "yes" if same else "[red]NO[/red]")
        if not same:
            mismatches.append(
                f"catalog table {table}: {mine[table]} rows in the source, {theirs[table]} in the target"
            )
    console.print(catalog)

    for dataset in (Dataset.COST_AND_USAGE, Dataset.CONTRACT_COMMITMENT):
        mismatches += _verify_rows(console, warehouse, clickhouse, dataset)
    mismatches += _verify_tombstones(console, warehouse, clickhouse)
    mismatches += _verify_history(console, warehouse, target)
    mismatches += _verify_fx_rates(console, warehouse, clickhouse)
    return mismatches


def _verify_history(console: Console, warehouse: Warehouse, target: Catalog) -> list[str]:
    mine, theirs = history_counts(warehouse, target)
    table = Table(title="History (batches) per workspace and provider")
    for name in ("Workspace/provider", "Source", "Target", "Match"):
        table.add_column(name, justify="left" if name.startswith("Work") else "right", overflow="fold")
    mismatches = []
    for key in sorted(set(mine) | set(theirs)):
        same = mine[key] == theirs[key]
        table.add_row(key, str(mine[key]), str(theirs[key]), "yes" if same else "[red]NO[/red]")
        if not same:
            mismatches.append(
                f"history {key}: {mine[key]} batches in the source, {theirs[key]} in the target"
            )
    console.print(table)
    return mismatches


def _verify_rows(
    console: Console, warehouse: Warehouse, clickhouse: ClickHouseWarehouse, dataset: Dataset
) -> list[str]:
    mismatches: list[str] = []
    summed = SUMMED_BY[dataset]
    source_sums = source_totals(warehouse, dataset)
    comparisons = compare_totals(
        source_sums, target_totals(clickhouse, {k[0] for k in source_sums}, dataset), dataset
    )
    label = "Cost and Usage" if dataset is Dataset.COST_AND_USAGE else "Contract Commitment"
    # Cost and Usage lines keep the form they had before commitments were copied; scripts may read them.
    prefix = "warehouse" if dataset is Dataset.COST_AND_USAGE else "warehouse Contract Commitment"
    rows = Table(title=f"Live {label} rows per workspace, provider and currency")
    for name in ("Workspace", "Provider", "Currency", "Rows", *summed, "Match"):
        text = name in ("Workspace", "Provider", "Currency")
        rows.add_column(name, justify="left" if text else "right", overflow="fold")
    for item in comparisons:
        cells = []
        for measure in ("rows", *summed):
            left = "-" if item.source is None else str(item.source[measure])
            right = "-" if item.target is None else str(item.target[measure])
            cells.append(f"[red]{left} / {right}[/red]" if measure in item.differing else left)
        rows.add_row(*item.key, *cells, "[red]NO[/red]" if item.differing else "yes")
        for measure in item.differing:
            left = "-" if item.source is None else item.source[measure]
            right = "-" if item.target is None else item.target[measure]
            mismatches.append(
                f"{prefix} {'/'.join(item.key)} {measure}: {left} in the source, {right} in the target"
            )
    console.print(rows)
    return mismatches


def _verify_tombstones(console: Console, warehouse: Warehouse, clickhouse: ClickHouseWarehouse) -> list[str]:
    mismatches: list[str] = []
    mine, theirs = source_tombstones(warehouse), target_tombstones(clickhouse)
    table = Table(title="Deleted providers (tombstones)")
    for name in ("Workspace", "Provider", "Source deletedAt", "Target deletedAt", "Match"):
        table.add_column(name, justify="right" if name == "Match" else "left", overflow="fold")
    for key in sorted(set(mine) | set(theirs)):
        left, right = mine.get(key, "-"), theirs.get(key, "-")
        table.add_row(*key, left, right, "yes" if left == right else "[red]NO[/red]")
        if left != right:
            mismatches.append(
                f"tombstone {'/'.join(key)}: deleted at {left} in the source, {right} in the target"
            )
    console.print(table)
    return mismatches


def _verify_fx_rates(console: Console, warehouse: Warehouse, clickhouse: ClickHouseWarehouse) -> list[str]:
    mismatches: list[str] = []
    table = Table(title="FX rates per workspace")
    for name in ("Workspace", "Source rates", "Target rates", "Match"):
        table.add_column(name, justify="left" if name == "Workspace" else "right", overflow="fold")
    for item in compare_fx_rates(warehouse, clickhouse):
        same = item.difference is None
        table.add_row(
            item.workspace_id, str(item.source), str(item.target), "yes" if same else "[red]NO[/red]"
        )
        if not same:
            mismatches.append(f"fx rates {item.workspace_id}: {item.difference}")
    console.print(table)
    return mismatches
