"""focusbase CLI: `export`, through a running server (--server) or directly on the data directory."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from focusbase.cli import app
from focusbase.config import Settings
from focusbase.export import service
from focusbase.export.spec import ExportRequestError, ExportSpec
from focusbase.query.filters import FilterError, Scope
from focusbase.storage import DataDirLocked, Warehouse, open_catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_NAME
from focusbase.storage.export_rows import DuckDBExportRows
from focusbase.tenancy.workspaces import list_workspaces

EXPORT_PATH = "/focus/v1/cost-and-usage/export"
POLL_SECONDS = 0.5

# CLI option -> CostFilters attribute (the list endpoint's filters).
FILTER_OPTIONS: dict[str, str] = {
    "charge_category": "chargeCategory",
    "provider_name": "providerName",
    "service_name": "serviceName",
    "service_category": "serviceCategory",
    "region": "region",
    "resource_id": "resourceId",
    "sub_account_id": "subAccountId",
    "billing_currency": "billingCurrency",
}


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _when(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"{option}: {value!r} is not an ISO 8601 date or date-time (e.g. 2025-01-01)") from exc


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        disable=quiet,
        transient=False,
    )


@app.command("export")
def export(
    start: Annotated[
        str, typer.Option("--start", help="Billing period window start, inclusive (ISO 8601, UTC).")
    ],
    end: Annotated[str, typer.Option("--end", help="Billing period window end, exclusive (ISO 8601, UTC).")],
    out: Annotated[
        Path, typer.Option("--out", help="File to write (a .zip with --include-contract-commitments).")
    ],
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or json (NDJSON).")] = "csv",
    focus_version: Annotated[
        str, typer.Option("--focus-version", help="FOCUS version: 1.0, 1.1, 1.2, 1.3.")
    ] = "1.3",
    compression: Annotated[
        str | None, typer.Option("--compression", help="gzip (csv and json only).")
    ] = None,
    include_contract_commitments: Annotated[
        bool, typer.Option("--include-contract-commitments", help="Also export contract commitments (a zip).")
    ] = False,
    charge_category: Annotated[
        str | None, typer.Option("--charge-category", help="Only this ChargeCategory.")
    ] = None,
    provider_name: Annotated[
        str | None, typer.Option("--provider-name", help="Only this ProviderName.")
    ] = None,
    service_name: Annotated[str | None, typer.Option("--service-name", help="Only this ServiceName.")] = None,
    service_category: Annotated[
        str | None, typer.Option("--service-category", help="Only this ServiceCategory.")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="Only this RegionId.")] = None,
    resource_id: Annotated[str | None, typer.Option("--resource-id", help="Only this ResourceId.")] = None,
    sub_account_id: Annotated[
        str | None, typer.Option("--sub-account-id", help="Only this SubAccountId.")
    ] = None,
    billing_currency: Annotated[
        str | None, typer.Option("--billing-currency", help="Only this BillingCurrency.")
    ] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Export through this running server (e.g. http://127.0.0.1:8000)."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="API key with the read scope, for --server [env FOCUSBASE_KEY]."),
    ] = None,
    workspace: Annotated[
        str | None, typer.Option("--workspace", help="Workspace name, without --server [default: default].")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory [env FOCUSBASE_DATA_DIR; default ./data]."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Export FOCUS cost and usage rows of a billing period window to a CSV, Parquet or NDJSON file."""
    given = {
        "charge_category": charge_category,
        "provider_name": provider_name,
        "service_name": service_name,
        "service_category": service_category,
        "region": region,
        "resource_id": resource_id,
        "sub_account_id": sub_account_id,
        "billing_currency": billing_currency,
    }
    filters = {attr: value for attr, value in given.items() if value is not None}
    try:
        spec = ExportSpec(
            billing_period_start=_when(start, "--start"),
            billing_period_end=_when(end, "--end"),
            format=fmt,
            focus_version=focus_version,
            compression=compression,
            include_contract_commitments=include_contract_commitments,
            filters=filters,
        )
        spec.cost_filters(Scope("check"))
    except (ExportRequestError, FilterError) as exc:
        raise _fail(str(exc)) from exc
    if server is not None:
        rows = _through_server(server, key or os.environ.get("FOCUSBASE_KEY"), spec, filters, out, quiet)
    else:
        rows = _on_data_dir(data_dir, workspace, spec, out, quiet)
    typer.echo(f"wrote {rows} rows to {out}", err=True)


def _on_data_dir(
    data_dir: Path | None, workspace: str | None, spec: ExportSpec, out: Path, quiet: bool
) -> int:
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    catalog = open_catalog(settings)
    name = workspace or DEFAULT_WORKSPACE_NAME
    found = [ws for ws in list_workspaces(catalog) if ws.name == name]
    if not found:
        raise _fail(f"no workspace named {name!r} in {settings.data_dir}")
    try:
        warehouse = Warehouse.in_dir(
            settings.data_dir, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
        )
    except DataDirLocked as exc:
        raise _fail(f"{exc}; export through the server instead: --server URL --key KEY") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _progress(quiet) as bar:
            task = bar.add_task("export", total=None)

            def progress(rows: int, total: int) -> None:
                bar.update(task, completed=rows, total=total)

            counts = service.write_export(
                DuckDBExportRows(warehouse),
                Scope(found[0].id),
                spec,
                out,
                on_progress=progress,
                max_custom=settings.export_max_custom_columns,
            )
    except OSError as exc:
        raise _fail(f"could not write {out}: {exc}") from exc
    finally:
        warehouse.close()
        catalog.close()
    return sum(counts.values())


def _through_server(
    server: str, key: str | None, spec: ExportSpec, filters: dict[str, str], out: Path, quiet: bool
) -> int:
    if not key:
        raise _fail("--server needs --key (or FOCUSBASE_KEY): an API key with the read scope")
    body: dict[str, Any] = {
        "billingPeriodStart": spec.to_json()["billing_period_start"],
        "billingPeriodEnd": spec.to_json()["billing_period_end"],
        "format": spec.format,
        "focusVersion": spec.focus_version,
        "includeContractCommitments": spec.include_contract_commitments,
        **{FILTER_OPTIONS[attr]: value for attr, value in filters.items()},
    }
    if spec.compression:
        body["compression"] = spec.compression
    base = server.rstrip("/")
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            job = _checked(http.post(EXPORT_PATH, json=body))
            with _progress(quiet) as bar:
                task = bar.add_task("export", total=None)
                while job["status"] in ("Pending", "Processing"):
                    time.sleep(POLL_SECONDS)
                    job = _checked(http.get(f"{EXPORT_PATH}/{job['jobId']}"))
                    progress = job.get("progress") or {}
                    bar.update(
                        task, completed=progress.get("rowsWritten", 0), total=progress.get("totalRows")
                    )
            if job["status"] == "Failed":
                raise _fail(f"export {job['jobId']} failed: {job.get('error')}")
            _download(http, job["downloadUrl"], out)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {base}: {exc}") from exc
    return int(job.get("recordCount") or 0)


def _checked(resp: httpx.Response) -> dict[str, Any]:
    if resp.status_code >= 400:
        try:
            error = resp.json()
            message = f"{error.get('code')}: {error.get('message')}"
        except ValueError:
            message = resp.text[:200]
        raise _fail(f"server answered {resp.status_code} {message}")
    data: dict[str, Any] = resp.json()
    return data


def _download(http: httpx.Client, url: str, out: Path) -> None:
    # The signed link needs no key; fetch it from the server we were given (its public URL may differ).
    parts = urlsplit(url)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with http.stream("GET", f"{parts.path}?{parts.query}") as resp:
            if resp.status_code >= 400:
                resp.read()
                _checked(resp)
            with partial.open("wb") as fh:
                for chunk in resp.iter_bytes(1 << 20):
                    fh.write(chunk)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
