"""focusbase CLI: `explore` (an explorer query as a table, JSON, CSV or Parquet) and `rollups rebuild`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from focusbase.analytics.explorer import ExplorerError, ExplorerResult, run_query
from focusbase.analytics.model import ExplorerQuery, QueryError, parse_query
from focusbase.analytics.results import result_csv, result_json, result_parquet
from focusbase.analytics.rollups import rebuild_rollups
from focusbase.analytics.views import ViewError, get_view
from focusbase.cli import app
from focusbase.cli.keys import DATA_DIR_HELP, WORKSPACE_HELP, existing_workspaces, fail
from focusbase.config import Settings
from focusbase.query.filters import Scope
from focusbase.runtime import Runtime
from focusbase.storage import DataDirLocked
from focusbase.storage.catalog import DEFAULT_WORKSPACE_NAME

rollups_app = typer.Typer(
    help="The explorer's daily rollup: rebuild it from the stored rows.", no_args_is_help=True
)
app.add_typer(rollups_app, name="rollups")

FILTER_HELP = (
    "A filter, repeatable: Dim=value (equals; a,b for several = in), Dim!=a,b (not in), Dim~text (contains, "
    "any case), +Dim (present), -Dim (absent). Dim is a FOCUS column, provider, tag:<key> or x_<name>."
)


def parse_filter(text: str) -> dict[str, Any]:
    """One --filter option as an explorer filter object."""
    if text.startswith(("+", "-")) and "=" not in text and "~" not in text:
        return {"dimension": text[1:], "op": "present" if text[0] == "+" else "absent"}
    for marker, op in (("!=", "not_in"), ("~", "contains"), ("=", "in")):
        if marker in text:
            name, _, value = text.partition(marker)
            if op == "contains":
                return {"dimension": name, "op": op, "values": [value]}
            values = value.split(",")
            if op == "in" and len(values) == 1:
                return {"dimension": name, "op": "equals", "values": values}
            return {"dimension": name, "op": op, "values": values}
    raise QueryError("filter", f"{text!r} is not Dim=value, Dim!=a,b, Dim~text, +Dim or -Dim")


def _open(data_dir: Path | None) -> Runtime:
    """The stores the server would open (the embedded warehouse, or FOCUSBASE_WAREHOUSE_URL's ClickHouse)."""
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    try:
        return Runtime.open(settings)
    except DataDirLocked as exc:
        raise fail(f"{exc}; while the server runs, use POST /api/v1/explorer/query") from exc


def _table(result: ExplorerResult) -> Table:
    body = result_json(result)
    labels = body["query"]["groupBy"]
    table = Table(title=f"{result.query.metric} by {result.query.grain} ({result.source})")
    for name in ["currency", "unit", "period", *labels, result.query.metric, "rows"]:
        table.add_column(name, justify="right" if name in (result.query.metric, "rows") else "left")
    for row in body["rows"]:
        group = ["Other" if row["other"] else (row["group"][label] or "-") for label in labels]
        table.add_row(
            row["currency"] or "-",
            row["unit"] or "",
            row["period"] or "",
            *group,
            row["value"],
            str(row["rowCount"]),
        )
    for total in body["totals"]:
        table.add_row(
            f"[bold]{total['currency'] or '-'}[/bold]",
            total["unit"] or "",
            "total",
            *[""] * len(labels),
            f"[bold]{total['value']}[/bold]",
            str(total["rowCount"]),
        )
    caption = f"{body['dataCompleteness']}; last updated {body['dataLastUpdated'] or 'never'}"
    if body["missingRates"]:
        caption += f"; {body['missingRates']['rows']} rows without a rate left out"
    table.caption = caption
    return table


@app.command("explore")
def explore(
    metric: Annotated[
        str | None, typer.Option("--metric", help="BilledCost, EffectiveCost (default), ...")
    ] = None,
    grain: Annotated[str | None, typer.Option("--grain", help="day (default), week, month or none.")] = None,
    group_by: Annotated[list[str] | None, typer.Option("--group-by", help="A dimension; up to 3.")] = None,
    filters: Annotated[list[str] | None, typer.Option("--filter", help=FILTER_HELP)] = None,
    start: Annotated[str | None, typer.Option("--start", help="First charge day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Day after the last, YYYY-MM-DD.")] = None,
    top: Annotated[
        int | None, typer.Option("--top", help="Keep the largest N groups; the rest is Other.")
    ] = None,
    sort: Annotated[
        str | None, typer.Option("--sort", help="value_desc (default), value_asc or group.")
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="Convert with the workspace's rates.")
    ] = None,
    view: Annotated[str | None, typer.Option("--view", help="Run a saved view (its id) instead.")] = None,
    output: Annotated[str, typer.Option("--format", help="table (default), json, csv or parquet.")] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (needed for parquet).")
    ] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help=WORKSPACE_HELP)] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help=DATA_DIR_HELP)] = None,
) -> None:
    """Cost over time, grouped and filtered, split by currency: the explorer on the command line."""
    if output not in ("table", "json", "csv", "parquet"):
        raise fail(f"--format must be table, json, csv or parquet, not {output!r}")
    if output == "parquet" and out is None:
        raise fail("--format parquet needs --out FILE")
    runtime = _open(data_dir)
    settings, catalog = runtime.settings, runtime.catalog
    try:
        found = existing_workspaces(catalog, workspace or DEFAULT_WORKSPACE_NAME)
        scope = Scope(found[0].id)
        query: ExplorerQuery
        try:
            if view is not None:
                query = get_view(catalog, settings, scope.workspace_id, view).query
            else:
                body: dict[str, Any] = {
                    "metric": metric,
                    "grain": grain,
                    "groupBy": group_by or [],
                    "start": start,
                    "end": end,
                    "top": top,
                    "sort": sort,
                    "currency": currency,
                    "filters": [parse_filter(f) for f in filters or []],
                }
                query = parse_query(
                    {k: v for k, v in body.items() if v is not None}, max_groups=settings.explorer_max_groups
                )
            result = run_query(runtime.explorer, catalog, settings, scope, query)
        except QueryError as exc:
            raise fail(f"invalid query: {exc}") from exc
        except (ExplorerError, ViewError) as exc:
            raise fail(exc.message) from exc
    finally:
        runtime.close()
    if output == "table":
        Console(width=200).print(_table(result))
        return
    data = (
        orjson.dumps(result_json(result), option=orjson.OPT_INDENT_2)
        if output == "json"
        else result_csv(result)
        if output == "csv"
        else result_parquet(result)
    )
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        typer.echo(f"wrote {len(result.aggregate.rows)} rows to {out}", err=True)


@rollups_app.command("rebuild")
def rebuild(
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help=DATA_DIR_HELP)] = None,
) -> None:
    """Recompute the explorer's daily rollup from the stored rows (deterministic; stop the server first)."""
    runtime = _open(data_dir)
    try:
        if runtime.settings.warehouse_url:
            raise fail(
                "the ClickHouse warehouse (FOCUSBASE_WAREHOUSE_URL) keeps its daily rollup with a"
                " materialized view as rows are stored: there is nothing to rebuild"
            )
        rows = rebuild_rollups(runtime.warehouse)
    finally:
        runtime.close()
    typer.echo(f"rebuilt the daily rollup: {rows} rows")
