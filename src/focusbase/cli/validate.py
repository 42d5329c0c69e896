"""focusbase CLI: `validate FILE...` checks FOCUS files row by row (exit 0 valid, 1 errors, 2 unreadable)."""

from __future__ import annotations

import sys
from collections import defaultdict
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from focusbase.cli import app
from focusbase.focus import VERSIONS, Dataset
from focusbase.ingest.files import FileReadError, FileValidation, validate_file
from focusbase.validate import PROFILES, Finding

# Files at least this large get a progress display when stderr is a terminal.
PROGRESS_MIN_BYTES = 20_000_000
SHOWN_PER_RULE = 5


@app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="CSV (.csv, .csv.gz), Parquet or JSON/NDJSON files.")],
    focus_version: Annotated[
        str | None,
        typer.Option(
            "--focus-version",
            help=f"FOCUS version: {', '.join(VERSIONS)} [default: detected from the columns of each file].",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="cost-and-usage or contract-commitment [default: the JSON envelope's, else detected].",
        ),
    ] = None,
    profile: Annotated[
        str, typer.Option("--profile", help="strict (the FOCUS spec) or ingest (push).")
    ] = "strict",
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    max_findings: Annotated[
        int, typer.Option("--max-findings", min=1, help="Most error (and warning) findings listed.")
    ] = 1000,
) -> None:
    """Validate FOCUS files row by row; exit 0 when valid, 1 when there are errors, 2 when unreadable."""
    chosen_dataset = _parse_call(focus_version, dataset, profile, output)
    checked: list[FileValidation] = []
    for path in files:
        try:
            with _progress(path) as bar:
                checked.append(
                    validate_file(
                        path,
                        profile=profile,  # type: ignore[arg-type]
                        version=focus_version,
                        dataset=chosen_dataset,
                        max_findings=max_findings,
                        progress=bar.phase if bar else None,
                        percent=bar.percent if bar else None,
                    )
                )
        except FileReadError as exc:
            _fail(str(exc))
        except ValueError as exc:
            _fail(f"{path}: {exc}")
    if output == "json":
        sys.stdout.write(orjson.dumps(_json_report(checked)).decode() + "\n")
    else:
        _print_text(checked)
    raise typer.Exit(0 if all(c.result.valid for c in checked) else 1)


def _parse_call(version: str | None, dataset: str | None, profile: str, output: str) -> Dataset | None:
    if version is not None and version not in VERSIONS:
        _fail(f"unsupported --focus-version {version!r}; use one of {', '.join(VERSIONS)}")
    if profile not in PROFILES:
        _fail(f"unknown --profile {profile!r}; use strict or ingest")
    if output not in ("text", "json"):
        _fail(f"unknown --format {output!r}; use text or json")
    if dataset is None:
        return None
    try:
        parsed = Dataset.parse(dataset)
    except ValueError as exc:
        _fail(str(exc))
    if parsed is Dataset.CONTRACT_COMMITMENT and version not in (None, "1.3"):
        _fail("the Contract Commitment dataset exists from FOCUS 1.3; use --focus-version 1.3")
    return parsed


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


class _Bar:
    """A rich progress bar on stderr: the phase as its description, DuckDB's query progress as its value."""

    def __init__(self, console: Console, path: Path) -> None:
        self._name = path.name
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._task = self._progress.add_task(f"{path.name}: starting", total=100)

    def phase(self, phase: str) -> None:
        self._progress.update(self._task, description=f"{self._name}: {phase}", completed=0)

    def percent(self, value: float) -> None:
        self._progress.update(self._task, completed=value)

    def __enter__(self) -> _Bar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)


def _progress(path: Path) -> AbstractContextManager[_Bar | None]:
    console = Console(stderr=True)
    try:
        big = path.stat().st_size >= PROGRESS_MIN_BYTES
    except OSError:
        big = False
    if big and console.is_terminal:
        return _Bar(console, path)
    return nullcontext(None)


def _json_report(checked: list[FileValidation]) -> dict[str, Any]:
    if len(checked) == 1:
        return checked[0].result.to_dict()
    findings = []
    counts: dict[str, Any] = {"errors": 0, "warnings": 0, "rules": defaultdict(int)}
    for c in checked:
        findings += [{**f.to_dict(), "file": str(c.path)} for f in c.result.findings]
        counts["errors"] += c.result.counts.errors
        counts["warnings"] += c.result.counts.warnings
        for rule, n in c.result.counts.rules.items():
            counts["rules"][rule] += n
    counts["rules"] = dict(sorted(counts["rules"].items()))
    return {
        "valid": all(c.result.valid for c in checked),
        "rows": sum(c.result.rows for c in checked),
        "findings": findings,
        "counts": counts,
        "files": [
            {
                "file": str(c.path),
                "valid": c.result.valid,
                "rows": c.result.rows,
                "counts": c.result.counts.to_dict(),
            }
            for c in checked
        ],
    }


def _print_text(checked: list[FileValidation]) -> None:
    console = Console(highlight=False, soft_wrap=True)
    for c in checked:
        result = c.result
        verdict = "[green]valid[/green]" if result.valid else "[red]INVALID[/red]"
        console.print(
            f"[bold]{c.path}[/bold] ({c.format}, FOCUS {c.version}, {result.rows} rows): {verdict} - "
            f"{result.counts.errors} errors, {result.counts.warnings} warnings"
        )
        groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for f in result.findings:
            groups[(f.severity, f.rule)].append(f)
        for (severity, rule), items in sorted(groups.items(), key=lambda kv: (kv[0][0] != "error", kv[0][1])):
            colour = "red" if severity == "error" else "yellow"
            total = result.counts.rules.get(rule, len(items))
            console.print(f"  [{colour}]{severity}[/{colour}] {rule}: {total} in total")
            for f in items[:SHOWN_PER_RULE]:
                at = f"row {f.row}" if f.row is not None else "file"
                console.print(f"    {at}, {f.column or '-'}: {f.message}", markup=False)
            if total > SHOWN_PER_RULE:
                console.print(f"    ... {total - SHOWN_PER_RULE} more (use --format json to list them)")
