"""focusbase CLI: demo commands (`focusbase demo-data`)."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from focusbase.cli import app
from focusbase.demo import DEFAULT_DAYS, DEFAULT_SEED, DEFAULT_START, FORMATS, write_demo_data
from focusbase.focus import Dataset

FORMAT_HELP = "csv, csv.gz, parquet, json (push envelope) or ndjson; default: from the --out extension."
DATASET_HELP = "cost-and-usage, or contract-commitment (FOCUS 1.3 only)."


def _parse_start(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2025-01-01") from None


@app.command("demo-data")
def demo_data(
    rows: Annotated[
        int, typer.Option("--rows", min=1, help="Number of Cost and Usage rows to write (exact).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Output file: .csv, .csv.gz, .parquet, .json or .ndjson.")
    ],
    focus_version: Annotated[str, typer.Option("--focus-version", help="FOCUS version: 1.2 or 1.3.")] = "1.2",
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same file.")] = DEFAULT_SEED,
    days: Annotated[int, typer.Option("--days", min=1, help="Daily charge periods covered.")] = DEFAULT_DAYS,
    start: Annotated[str, typer.Option("--start", help="First charge day (UTC), YYYY-MM-DD.")] = str(
        DEFAULT_START
    ),
    fmt: Annotated[str | None, typer.Option("--format", help=FORMAT_HELP)] = None,
    dataset: Annotated[str, typer.Option("--dataset", help=DATASET_HELP)] = "cost-and-usage",
) -> None:
    """Write realistic synthetic FOCUS data (several providers, commitments, credits, taxes) to a file."""
    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(FORMATS)}", param_hint="--format")
    try:
        chosen = Dataset.parse(dataset)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset") from None
    started = time.perf_counter()
    try:
        result = write_demo_data(
            out, rows, focus_version=focus_version, seed=seed, days=days, start=_parse_start(start),
            fmt=fmt, dataset=chosen,
        )  # fmt: skip
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    elapsed = time.perf_counter() - started
    typer.echo(
        f"wrote {result.rows:,} {chosen.value} rows (FOCUS {result.focus_version}, {result.format}) "
        f"to {result.path} in {elapsed:.1f} s"
    )
