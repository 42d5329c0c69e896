"""focusbase CLI: `import FILE --provider ID`, through a server (--server, --key) or the data directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from focusbase.cli import app
from focusbase.cli.keys import DATA_DIR_HELP, fail, operator
from focusbase.config import Settings
from focusbase.focus import Dataset
from focusbase.ingest import imports as service
from focusbase.ingest import preview as preview_service
from focusbase.ingest.mapping import ImportOptions, Mapping
from focusbase.ingest.model import IngestError
from focusbase.ingest.uploads import spool_dir
from focusbase.runtime import Runtime
from focusbase.storage.warehouse import DataDirLocked
from focusbase.tenancy.providers import Provider, get_provider
from focusbase.tenancy.workspaces import Workspace, list_workspaces

console = Console(stderr=True, soft_wrap=True)


def _load_mapping(path: Path | None) -> Mapping | None:
    if path is None:
        return None
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise fail(f"cannot read the mapping file {path}: {exc}") from None
    try:
        return service.parse_mapping_document(document)
    except IngestError as exc:
        raise fail(exc.message) from None


def _options(
    encoding: str | None, delimiter: str | None, null_strings: list[str], lenient: bool, decimal_comma: bool
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if encoding:
        options["encoding"] = encoding
    if delimiter:
        options["delimiter"] = "\t" if delimiter in ("\\t", "tab") else delimiter
    if null_strings:
        options["nullStrings"] = null_strings
    if lenient:
        options["lenientTimestamps"] = True
    if decimal_comma:
        options["decimalComma"] = True
    return options


def _print_preview(preview: dict[str, Any]) -> None:
    file = preview["file"]
    console.print(
        f"[bold]{file.get('name')}[/]: {file['format']}"
        f"{' (gzip)' if file.get('compression') == 'gzip' else ''}, encoding {file.get('encoding')}, "
        f"delimiter {file.get('delimiter')!r}, {len(file['columns'])} columns"
    )
    if preview.get("detectedExport"):
        console.print(f"recognised: {preview['detectedExport']['label']}")
    console.print(f"mapping: {preview['mappingSource']}")
    for p in preview["proposals"]:
        console.print(
            f"  {p['column']} <- {p['source']!r} ({p['status']}, {p['confidence']:.2f}): {p['reason']}",
            soft_wrap=True,
            markup=False,
        )
    for note in preview.get("notes", []):
        console.print(f"note: {note}")
    for problem in preview.get("problems", []):
        console.print(f"[red]problem[/]: {problem['location']}: {problem['message']}")
    console.print(f"findings on the first {preview['sampleRows']} rows: {preview['findingCount']} errors")
    for finding in preview.get("findings", [])[:20]:
        console.print(
            f"  row {finding['row']}, {finding['column']}: {finding['rule']} ({finding['severity']}): "
            f"{finding['message']}"
        )


def _print_summary(body: dict[str, Any]) -> None:
    table = Table("batch", body["batchId"])
    table.add_row("status", body["status"])
    table.add_row("rows received", str(body.get("rowsReceived")))
    table.add_row("line items created", str(body.get("lineItemsCreated")))
    table.add_row("rows rejected", str(body.get("rowsRejected")))
    table.add_row("rows replaced", str((body.get("replaced") or {}).get("rows", 0)))
    for currency, sums in (body.get("sums") or {}).items():
        table.add_row(f"{currency} BilledCost", str(sums.get("BilledCost")))
        table.add_row(f"{currency} EffectiveCost", str(sums.get("EffectiveCost")))
    Console().print(table)


def _error_exit(body: dict[str, Any]) -> typer.Exit:
    console.print(f"[red]error[/] {body.get('code')}: {body.get('message')}")
    for problem in body.get("problems", [])[:20]:
        console.print(f"  {problem['location']}: {problem['message']}")
    for err in body.get("errors", [])[:20]:
        console.print(f"  row {err.get('row')}, {err.get('column')}: {err.get('code')}: {err.get('message')}")
    return typer.Exit(1)


class _Counting:
    """A file wrapper that advances a progress bar as httpx reads it."""

    def __init__(self, fh: BinaryIO, progress: Progress, task: Any) -> None:
        self.fh = fh
        self.progress = progress
        self.task = task

    def read(self, size: int = -1) -> bytes:
        chunk = self.fh.read(size)
        self.progress.advance(self.task, len(chunk))
        return chunk


def _remote(
    server: str, key: str, provider_id: str, path: Path, fields: dict[str, str], dry_run: bool
) -> dict[str, Any]:
    base = server.rstrip("/")
    headers = {"Authorization": f"Bearer {key}"}
    url = f"{base}/api/v1/providers/{provider_id}/imports" + ("/preview" if dry_run else "")
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn())
    with httpx.Client(timeout=None) as client:
        with Progress(*columns, console=console) as progress, path.open("rb") as fh:
            task = progress.add_task("uploading", total=path.stat().st_size)
            files = {"file": (path.name, _Counting(fh, progress, task))}
            response = client.post(url, headers=headers, files=files, data=fields)  # type: ignore[arg-type]
        body: dict[str, Any] = response.json()
        if response.status_code >= 400:
            raise _error_exit(body)
        if response.status_code == 202:
            body = _follow(client, base, headers, body["batchId"])
    return body


def _follow(client: httpx.Client, base: str, headers: dict[str, str], batch_id: str) -> dict[str, Any]:
    """Poll a background import's batch until it commits or fails, showing its progress."""
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("importing", total=100)
        while True:
            response = client.get(f"{base}/api/v1/batches/{batch_id}", headers=headers)
            batch = response.json()
            if response.status_code != 200:
                console.print(
                    f"the import runs in the background as batch {batch_id}; it cannot be followed:"
                )
                raise _error_exit(batch)
            status = batch.get("status")
            progress.update(task, completed=(batch.get("progress") or {}).get("percent") or 0)
            if status not in ("received", "validating"):
                break
            time.sleep(0.5)
    if status != "committed":
        raise _error_exit(
            {
                "code": "import_failed",
                "message": batch.get("failureReason"),
                "errors": batch.get("errors", []),
            }
        )
    return {"batchId": batch_id, **batch}


def _find_provider(runtime: Runtime, provider_id: str) -> tuple[Provider, Workspace]:
    for ws in list_workspaces(runtime.catalog):
        provider = get_provider(runtime.catalog, ws.id, provider_id)
        if provider is not None:
            return provider, ws
    raise fail(f"no provider {provider_id} in this data directory")


def _local(
    data_dir: Path | None,
    provider_id: str,
    path: Path,
    kwargs: dict[str, Any],
    dry_run: bool,
) -> dict[str, Any]:
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    try:
        runtime = Runtime.open(settings)
    except DataDirLocked as exc:
        raise fail(f"{exc}; pass --server URL --key KEY to import through the running server") from None
    try:
        provider, workspace = _find_provider(runtime, provider_id)
        work_dir = spool_dir(settings.data_dir)
        common = {
            "file_name": path.name,
            "file_size": path.stat().st_size,
            "dataset": kwargs["dataset"],
            "mapping": kwargs["mapping"],
            "options": kwargs["options"],
            "work_dir": work_dir,
        }
        try:
            if dry_run:
                return preview_service.preview_import(runtime, provider, path, **common)
            started = service.start_import(
                runtime,
                operator(workspace),
                provider,
                path,
                mode=kwargs["mode"],
                window_start=kwargs["start"],
                window_end=kwargs["end"],
                allow_partial=kwargs["allow_partial"],
                **common,
            )
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console) as progress:
                task = progress.add_task("importing", total=100)

                def show(p: dict[str, Any]) -> None:
                    progress.update(
                        task, completed=p.get("percent") or 0, description=f"{p['rowsRead']:,} rows"
                    )

                summary = service.run_import(runtime, started, on_progress=show)
            return summary.as_json()
        except IngestError as exc:
            raise _error_exit({"code": exc.code, "message": exc.message, **exc.extra}) from None
    finally:
        runtime.warehouse.close()
        runtime.catalog.close()


def _time(value: str | None, name: str) -> Any:
    if value is None:
        return None
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"--{name} must be an ISO 8601 date or date-time, got {value!r}") from None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV, CSV.gz or Parquet file.", exists=True, dir_okay=False)],
    provider: Annotated[str, typer.Option("--provider", help="Provider id (prv_...).")],
    mapping: Annotated[Path | None, typer.Option("--mapping", help="Mapping document (JSON file).")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="Replace mode (default replace_days).")] = None,
    start: Annotated[str | None, typer.Option("--start", help="replace_range: inclusive start.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="replace_range: exclusive end.")] = None,
    dataset: Annotated[
        str, typer.Option("--dataset", help="CostAndUsage or ContractCommitment.")
    ] = "CostAndUsage",
    encoding: Annotated[str | None, typer.Option("--encoding", help="Text encoding (e.g. latin-1).")] = None,
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="Field delimiter (sniffed).")] = None,
    null_string: Annotated[
        list[str] | None,
        typer.Option("--null-string", help="Cell text read as null (repeatable), e.g. NULL."),
    ] = None,
    lenient_timestamps: Annotated[
        bool, typer.Option("--lenient-timestamps", help="Read '2024-09-18 22:00:00' as UTC.")
    ] = False,
    decimal_comma: Annotated[
        bool, typer.Option("--decimal-comma", help="Money uses a decimal comma.")
    ] = False,
    allow_partial: Annotated[bool, typer.Option("--allow-partial", help="Store the valid rows.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the mapping and findings; store nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    server: Annotated[
        str | None, typer.Option("--server", help="Server URL (import through the API).")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="API key for --server.", envvar="FOCUSBASE_API_KEY")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help=DATA_DIR_HELP)] = None,
) -> None:
    """Import a file into a provider as one batch (or, with --dry-run, show what would happen)."""
    try:
        chosen_dataset = Dataset.parse(dataset)
    except ValueError as exc:
        raise fail(str(exc)) from None
    options = _options(encoding, delimiter, null_string or [], lenient_timestamps, decimal_comma)
    chosen_mapping = _load_mapping(mapping)
    if server:
        if not key:
            raise fail("--server needs --key (or FOCUSBASE_API_KEY)")
        fields = {"dataset": chosen_dataset.value}
        for name, value in (("mode", mode), ("start", start), ("end", end)):
            if value:
                fields[name] = value
        if chosen_mapping is not None:
            fields["mapping"] = orjson.dumps(chosen_mapping.to_json()).decode()
        if options:
            fields["options"] = orjson.dumps(options).decode()
        if allow_partial:
            fields["allowPartial"] = "true"
        body = _remote(server, key, provider, file, fields, dry_run)
    else:
        try:
            parsed_options: ImportOptions | None = service.parse_options(options) if options else None
        except IngestError as exc:
            raise fail(exc.message) from None
        kwargs = {
            "dataset": chosen_dataset,
            "mapping": chosen_mapping,
            "options": parsed_options,
            "mode": mode,
            "start": _time(start, "start"),
            "end": _time(end, "end"),
            "allow_partial": allow_partial,
        }
        body = _local(data_dir, provider, file, kwargs, dry_run)
    if as_json:
        typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
    elif dry_run:
        _print_preview(body)
    else:
        _print_summary(body)
