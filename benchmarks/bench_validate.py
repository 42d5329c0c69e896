"""Benchmark: `focusbase validate --profile strict --focus-version 1.2` on a 1,000,000-row FOCUS 1.2 CSV.

Measured in the same run on the same file (made with `focusbase demo-data`), each as its own process so
that peak RSS is that process's own (wait4):
- the focusbase CLI end to end (interpreter start, reading, every rule, the JSON report);
- the same service in process (`focusbase.ingest.files.validate_file`, as the CLI calls it);
- DuckDB reading the file into a table: `CREATE TABLE t AS SELECT * FROM read_csv(...)` (the 2x target);
- focus-validator 2.2.1, the FinOps Foundation's validator (the 10x target).
`--quick` uses 100,000 rows.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from benchmarks.focus_validator import Measured, run_focus_validator, run_measured
from focusbase.demo import write_demo_data

ROWS, QUICK_ROWS = 1_000_000, 100_000
SEED, DAYS = 42, 90
REPEATS = 2  # the best of two for the fast contenders (three with --quick); focus-validator runs once

DUCKDB_LOAD = """
import sys, time, duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
started = time.perf_counter()
con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [sys.argv[1]])
rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
print(rows, time.perf_counter() - started)
"""

# The same service the CLI calls (focusbase.ingest.files.validate_file), in process: no CLI start-up, no
# report printing.
ENGINE = """
import sys, time
from pathlib import Path
from focusbase.ingest.files import validate_file
started = time.perf_counter()
checked = validate_file(Path(sys.argv[1]), profile="strict", version="1.2")
print(checked.result.counts.errors, time.perf_counter() - started)
"""


def _python() -> str:
    return sys.executable


def _best(runs: list[Measured]) -> Measured:
    return min(runs, key=lambda m: m.seconds)


def _demo_file(workdir: Path, rows: int) -> tuple[Path, str]:
    path = workdir / f"demo-1.2-{rows}-seed{SEED}.csv"
    if path.exists():
        return path, "reused from an earlier run"
    started = time.perf_counter()
    write_demo_data(path, rows, focus_version="1.2", seed=SEED, days=DAYS)
    return path, f"made in {time.perf_counter() - started:.1f} s"


def _cli(path: Path) -> Measured:
    focusbase = Path(sys.executable).parent / "focusbase"
    cmd = [str(focusbase), "validate", str(path), "--profile", "strict", "--focus-version", "1.2",
           "--format", "json"]  # fmt: skip
    return run_measured(cmd)


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def run(workdir: Path, quick: bool) -> list[str]:
    """Validate a demo CSV with focusbase, DuckDB and focus-validator; Markdown lines with the figures."""
    workdir.mkdir(parents=True, exist_ok=True)
    rows = QUICK_ROWS if quick else ROWS
    path, made = _demo_file(workdir, rows)
    size = path.stat().st_size
    lines = [
        f"File: {rows:,} rows of FOCUS 1.2 demo data (`focusbase demo-data --rows {rows} --seed {SEED} "
        f"--days {DAYS} --out demo.csv`, {size / 1e6:,.0f} MB; {made})",
        "",
    ]

    repeats = REPEATS + 1 if quick else REPEATS
    # Round robin, so that load from other processes on the machine falls on every contender alike.
    duck_runs: list[Measured] = []
    engine_runs: list[Measured] = []
    cli_runs: list[Measured] = []
    for _ in range(repeats):
        duck_runs.append(run_measured([_python(), "-c", DUCKDB_LOAD, str(path)]))
        engine_runs.append(run_measured([_python(), "-c", ENGINE, str(path)]))
        cli_runs.append(_cli(path))
    duck = _best(duck_runs)
    if duck.returncode != 0:
        raise RuntimeError(f"DuckDB load failed: {duck.stderr[-2000:]}")
    duck_rows, duck_inner = duck.stdout.split()[-2:]
    assert int(duck_rows) == rows
    engine = _best(engine_runs)
    if engine.returncode != 0:
        raise RuntimeError(f"validate_file failed: {engine.stderr[-2000:]}")
    engine_errors, engine_inner = engine.stdout.split()[-2:]

    cli = _best(cli_runs)
    cli_ok = cli.returncode in (0, 1)
    if not cli_ok:
        problem = (cli.stderr or cli.stdout).strip().splitlines() or [""]
        cli_note = f"CLI failed (exit {cli.returncode}): {' '.join(problem)[-200:]}"
    else:
        report = json.loads(cli.stdout)
        cli_note = (
            f"valid={report['valid']}, rows={report['rows']:,}, errors={report['counts'].get('errors')}"
        )

    fv = run_focus_validator(path)

    def row(name: str, m: Measured | None, seconds: float, note: str) -> str:
        rss = _mib(m.max_rss_kib) if m else "-"
        return f"| {name} | {seconds:,.2f} | {rss} | {note} |"

    lines += [
        "| contender | seconds | peak RSS | notes |",
        "|---|---:|---:|---|",
        row("focusbase validate (CLI, end to end)", cli, cli.seconds, cli_note),
        row(
            "validate_file() in process (the service the CLI calls)",
            engine,
            float(engine_inner),
            f"process {engine.seconds:.2f} s; errors={engine_errors}",
        ),
        row(
            "DuckDB `CREATE TABLE AS SELECT * FROM read_csv`",
            duck,
            duck.seconds,
            f"load itself {float(duck_inner):.2f} s",
        ),
    ]
    if fv.available:
        lines.append(
            f"| focus-validator 2.2.1 | {fv.seconds:,.2f} | {_mib(fv.max_rss_kib)} | tests={fv.tests} "
            f"failures={fv.failures} skipped={fv.skipped}; real failures={len(fv.real_failures)} |"
        )
    else:
        lines.append(f"| focus-validator 2.2.1 | - | - | {fv.reason} |")
    lines.append("")
    lines.append(f"Process wall times, best of {repeats} taken round robin (focus-validator: one run).")
    ours, label = (cli, "CLI") if cli_ok else (engine, "validate_file (CLI unavailable)")
    lines.append(
        f"- focusbase {label} / DuckDB load (target <= 2.0x): {ours.seconds / duck.seconds:.2f}x; "
        f"validate_file process / DuckDB process: {engine.seconds / duck.seconds:.2f}x"
    )
    if fv.available:
        lines.append(
            f"- focus-validator / focusbase {label} (target >= 10x): {fv.seconds / ours.seconds:.1f}x"
        )
    return lines
