"""Benchmark: importing a FOCUS CSV file through the real server against DuckDB read_csv of the same file.

Setup: a FOCUS 1.2 CSV from `focusbase.demo` (1,000,000 rows; `--quick`: 100,000), generated once per work
directory. In the same run:
- reference: DuckDB `CREATE TABLE t AS SELECT * FROM read_csv(file)` into a fresh database file, in this
  process;
- for scale: the validator alone over the same file with the import's (ingest) profile, in this process;
- focusbase: `focusbase serve` in its own process; the file is streamed to
  `POST /api/v1/providers/{id}/imports` (multipart) and the wall time runs until the batch is committed
  (the server runs large files in the background; the batch is polled). The server's peak RSS (VmHWM) is
  read from /proc after the import. A clean CSV takes the single pass; for scale, the same file is also
  imported part by part (`FOCUSBASE_IMPORT_SINGLE_PASS=false`) by a fresh server.
- bounded memory (not with --quick): a ~2 GB CSV is imported the same way by a fresh server, whose peak
  RSS must stay below MEMORY_BOUND_MB.
Targets: ratio <= 2.0; peak RSS of the 2 GB import < 1.5 GB.
"""

from __future__ import annotations

import csv
import io
import shutil
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx

from benchmarks.server import peak_rss_mb, start_server
from focusbase.demo import write_demo_data
from focusbase.ingest.files import validate_file
from focusbase.storage import Catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key

RATIO_TARGET = 2.0
MEMORY_BOUND_MB = 1536
BIG_FILE_BYTES = 2 * 1024**3


def demo_file(workdir: Path, rows: int) -> Path:
    """A demo FOCUS 1.2 CSV of `rows` rows, generated once per work directory."""
    path = workdir / f"focus-1.2-{rows}.csv"
    if not path.exists():
        write_demo_data(path, rows, focus_version="1.2")
    return path


def reference(path: Path, workdir: Path) -> float:
    """Seconds DuckDB takes to read the CSV into a table of a fresh database file."""
    db = workdir / "reference.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    try:
        started = time.perf_counter()
        con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [str(path)])
        con.execute("CHECKPOINT")
        return time.perf_counter() - started
    finally:
        con.close()
        db.unlink(missing_ok=True)


def check_only(path: Path) -> float:
    """Seconds the validator alone takes over the file with the import's profile, in this process."""
    started = time.perf_counter()
    result = validate_file(path, profile="ingest")
    elapsed = time.perf_counter() - started
    if result.result.counts.errors:
        raise RuntimeError(f"the benchmark file has {result.result.counts.errors} errors")
    return elapsed


class Server:
    """`focusbase serve` on a free port with its own data directory."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.proc, self.base = start_server(data_dir, {"FOCUSBASE_SECRET_KEY": "bench", **(env or {})})
        key = create_key(
            Catalog.in_dir(data_dir), workspace_id=DEFAULT_WORKSPACE_ID, name="bench", scopes=["admin"]
        )
        self.headers = {"Authorization": f"Bearer {key.key}"}
        self.client = httpx.Client(timeout=None)
        created = self.client.post(
            f"{self.base}/api/v1/providers",
            json={"name": "Bench", "defaultCurrency": "USD"},
            headers=self.headers,
        )
        created.raise_for_status()
        self.provider_id = created.json()["id"]

    def import_file(self, path: Path) -> tuple[float, float, dict[str, Any]]:
        """Upload and import a file; seconds until the batch is committed and of the upload, and the batch."""
        elapsed, uploaded, batch = self.upload_and_wait(path)
        if batch["status"] != "committed":
            raise RuntimeError(f"import failed: {batch.get('failureReason')} {batch.get('errors', [])[:3]}")
        return elapsed, uploaded, batch

    def upload_and_wait(self, path: Path) -> tuple[float, float, dict[str, Any]]:
        """Upload a file; seconds until its batch is committed or failed, seconds of the upload, the batch."""
        url = f"{self.base}/api/v1/providers/{self.provider_id}/imports"
        started = time.perf_counter()
        with path.open("rb") as fh:
            response = self.client.post(
                url, headers=self.headers, files={"file": (path.name, fh, "text/csv")}
            )
        uploaded = time.perf_counter() - started
        body: dict[str, Any] = response.json()
        if response.status_code not in (200, 202, 422):
            raise RuntimeError(f"import failed: {response.status_code} {body}")
        batch_id = body["batchId"]
        while True:
            batch: dict[str, Any] = self.client.get(
                f"{self.base}/api/v1/batches/{batch_id}", headers=self.headers
            ).json()
            if batch["status"] not in ("received", "validating"):
                break
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        return elapsed, uploaded, batch

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(120)


def _fresh(data_dir: Path) -> Path:
    if data_dir.exists():
        for item in sorted(data_dir.rglob("*"), reverse=True):
            item.unlink() if item.is_file() else item.rmdir()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


def _big_file(workdir: Path, sample: Path, rows: int) -> tuple[Path, int]:
    """A CSV of at least BIG_FILE_BYTES from the demo generator (rows scaled from the sample's row size)."""
    per_row = sample.stat().st_size / rows
    big_rows = int(BIG_FILE_BYTES / per_row) + 1
    return demo_file(workdir, big_rows), big_rows


def _rejected_file(workdir: Path, clean: Path) -> Path:
    """The clean file plus one last row whose BilledCost is not a number (the worst case to reject)."""
    path = workdir / f"{clean.stem}-bad-last-row.csv"
    if path.exists():
        return path
    with clean.open("rb") as fh:
        header = fh.readline().decode().rstrip("\n").split(",")
        fh.seek(-65536, 2)
        last = fh.read().decode().splitlines()[-1]
    row = next(csv.reader(io.StringIO(last)))
    row[header.index("BilledCost")] = "abc"
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(row)
    shutil.copyfile(clean, path)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line.getvalue())
    return path


def _reject(workdir: Path, path: Path, name: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    server = Server(_fresh(workdir / name), env)
    try:
        seconds, _, batch = server.upload_and_wait(path)
    finally:
        server.stop()
    if batch["status"] != "failed" or batch["errors"][0]["column"] != "BilledCost":
        raise RuntimeError(f"the file with a bad last row was not rejected as expected: {batch}")
    return seconds, batch


def _column_count(path: Path) -> int:
    with path.open(encoding="utf-8") as fh:
        return len(fh.readline().split(","))


def run(workdir: Path, quick: bool) -> list[str]:
    rows = 100_000 if quick else 1_000_000
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    path = demo_file(workdir, rows)
    generated = time.perf_counter() - started
    size_mb = path.stat().st_size / 1024**2
    ref = reference(path, workdir)
    checked = check_only(path)
    server = Server(_fresh(workdir / "data"))
    try:
        ours, uploaded, batch = server.import_file(path)
        peak = peak_rss_mb(server.proc.pid)
    finally:
        server.stop()
    # The same file with the single pass switched off: every file goes part by part.
    server = Server(_fresh(workdir / "data-parts"), {"FOCUSBASE_IMPORT_SINGLE_PASS": "false"})
    try:
        parts, parts_uploaded, parts_batch = server.import_file(path)
        parts_peak = peak_rss_mb(server.proc.pid)
    finally:
        server.stop()
    ratio = ours / ref
    lines = [
        f"Command: `python -m benchmarks import{' --quick' if quick else ''}`; a {rows:,}-row FOCUS 1.2 CSV "
        f"({size_mb:,.0f} MB, {_column_count(path)} columns) from "
        f"focusbase.demo (generated in {generated:.0f} s, cached per work dir).",
        "",
        "| what | seconds | rows/s |",
        "|---|---:|---:|",
        f"| reference: DuckDB `CREATE TABLE AS SELECT * FROM read_csv` | {ref:.2f} | {rows / ref:,.0f} |",
        f"| focusbase: multipart upload + import to committed batch | {ours:.2f} | {rows / ours:,.0f} |",
        f"| of which the upload (until the `202` answer) | {uploaded:.2f} | |",
        f"| for scale: focusbase with `FOCUSBASE_IMPORT_SINGLE_PASS=false` (part by part) | {parts:.2f} | "
        f"{rows / parts:,.0f} |",
        f"| for scale: checking the same file only (`validate_file`, ingest profile, no storing) | "
        f"{checked:.2f} | {rows / checked:,.0f} |",
        "",
        f"- ratio focusbase / reference: **{ratio:.2f}** (target <= {RATIO_TARGET}: "
        f"{'met' if ratio <= RATIO_TARGET else 'NOT met'})",
        f"- checking alone takes {checked / ref:.2f}x the reference; storing what was checked takes the rest",
        f"- batch: {batch['lineItemsCreated']:,} line items, status {batch['status']}, method "
        f"{batch['progress']['method']}; server peak RSS {peak:,.0f} MB",
        f"- part by part: {parts / ref:.2f}x the reference (upload {parts_uploaded:.2f} s), "
        f"{parts_batch['lineItemsCreated']:,} line items, method {parts_batch['progress']['method']}; "
        f"server peak RSS {parts_peak:,.0f} MB",
    ]
    # The worst case for a rejected file: its only bad row is the last one.
    bad = _rejected_file(workdir, path)
    rejected, rejected_batch = _reject(workdir, bad, "data-rejected", {})
    rejected_parts, _ = _reject(
        workdir, bad, "data-rejected-parts", {"FOCUSBASE_IMPORT_SINGLE_PASS": "false"}
    )
    lines.append(
        f"- the same file with one bad BilledCost appended (row {rejected_batch['errors'][0]['row']:,}): "
        f"rejected in {rejected:.2f} s (single pass, then its parts checked), {rejected_parts:.2f} s part by "
        "part"
    )
    if not quick:
        big, big_rows = _big_file(workdir, path, rows)
        big_mb = big.stat().st_size / 1024**2
        server = Server(_fresh(workdir / "data-big"))
        try:
            big_seconds, _, big_batch = server.import_file(big)
            big_peak = peak_rss_mb(server.proc.pid)
        finally:
            server.stop()
        lines += [
            f"- {big_mb:,.0f} MB CSV ({big_rows:,} rows): imported in {big_seconds:.0f} s "
            f"({big_batch['lineItemsCreated']:,} line items, method {big_batch['progress']['method']}); "
            f"server peak RSS **{big_peak:,.0f} MB** "
            f"(target < {MEMORY_BOUND_MB} MB: {'met' if big_peak < MEMORY_BOUND_MB else 'NOT met'})",
        ]
    else:
        lines.append("- 2 GB bounded-memory import: skipped with --quick")
    return lines
