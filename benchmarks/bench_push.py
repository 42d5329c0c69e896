"""Benchmark: push ingest end to end over HTTP on loopback against "orjson.loads + Arrow + DuckDB insert".

Setup: N synthetic StackSpend rows (1,000,000; `--quick`: 100,000) with 14 FOCUS columns, money as JSON number
literals with up to 12 decimal places, Tags as an object, split into bodies of 50,000 rows. In the same run:
- focusbase: a real `focusbase serve` process; a multi-part batch (open, one part per body, commit) sent
  with httpx over loopback, once with one part at a time and once with two parts in flight (as
  `focusbase push` does by default; this second batch replaces the first); wall time from open to the
  committed response. Validation, defaults, staging and the atomic commit are all included.
- reference: the same bodies in this process: orjson.loads, pyarrow.Table.from_pylist, INSERT into a DuckDB
  table in a fresh database file; wall time.
Target: ratio <= 2. Also p50 / p99 latency of a single 10,000-row push (replace_days, same day each time).
"""

from __future__ import annotations

import random
import shutil
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pyarrow as pa

from benchmarks.server import start_server
from focusbase.storage import Catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key

PART_ROWS = 50_000
PARALLEL = 2
RATIO_TARGET = 2.0
SERVICES = ("Compute", "Storage", "Network", "Database", "Support")
CATEGORIES = ("Usage",) * 18 + ("Tax", "Credit")


def _number(value: Decimal) -> Any:
    return orjson.Fragment(str(value).encode())


def make_bodies(rows: int, part_rows: int, seed: int = 1) -> list[bytes]:
    """The push envelopes, `part_rows` rows each."""
    rng = random.Random(seed)
    bodies = []
    for offset in range(0, rows, part_rows):
        batch = []
        for i in range(offset, min(rows, offset + part_rows)):
            category = CATEGORIES[i % len(CATEGORIES)]
            usage = category == "Usage"
            cost = Decimal(f"{rng.randint(0, 99999)}.{rng.randint(0, 10**12 - 1):012d}")
            batch.append(
                {
                    "ChargePeriodStart": f"2026-06-{i % 28 + 1:02d}T{i % 24:02d}:00:00Z",
                    "ChargePeriodEnd": f"2026-06-{i % 28 + 1:02d}T{i % 24:02d}:59:59Z",
                    "BilledCost": _number(cost),
                    "EffectiveCost": _number(cost),
                    "BillingCurrency": "EUR" if i % 10 == 0 else "USD",
                    "ChargeCategory": category,
                    "ServiceName": SERVICES[i % len(SERVICES)],
                    "RegionId": f"eu-west-{i % 3}",
                    "ResourceId": f"i-{i % 200003:08d}",
                    "SubAccountId": f"acct-{i % 211}",
                    "ConsumedQuantity": _number(Decimal(i % 1000) / 8) if usage else None,
                    "ConsumedUnit": "Hours" if usage else None,
                    "Tags": {"team": f"t{i % 17}", "env": "prod" if i % 3 else "dev"},
                    "x_CostCenter": f"cc-{i % 31}",
                }
            )
        bodies.append(orjson.dumps({"format": "stackspend.focus", "version": "1", "rows": batch}))
    return bodies


def reference(bodies: list[bytes], path: Path) -> float:
    """orjson.loads + Arrow table + DuckDB insert of the same bodies; seconds."""
    started = time.perf_counter()
    con = duckdb.connect(str(path))
    try:
        first = True
        for body in bodies:
            rows = orjson.loads(body)["rows"]
            table = pa.Table.from_pylist(rows)
            con.register("incoming", table)
            if first:
                con.execute("CREATE TABLE pushed AS SELECT * FROM incoming")
                first = False
            else:
                con.execute("INSERT INTO pushed SELECT * FROM incoming")
            con.unregister("incoming")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return time.perf_counter() - started


def push_multipart(
    http: httpx.Client, provider: str, bodies: list[bytes], parallel: int
) -> tuple[float, dict[str, Any]]:
    """One multi-part batch over HTTP, `parallel` parts in flight (as `focusbase push`); seconds, summary."""
    started = time.perf_counter()
    batch = http.post(f"/api/v1/providers/{provider}/batches", json={}).json()["batchId"]

    def send(index: int) -> None:
        params = {"firstRow": index * PART_ROWS + 1}
        response = http.post(f"/api/v1/batches/{batch}/parts", content=bodies[index], params=params)
        if response.status_code != 200:
            raise RuntimeError(f"part refused: {response.text[:500]}")

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(send, range(len(bodies))))
    committing = time.perf_counter()
    summary: dict[str, Any] = http.post(f"/api/v1/batches/{batch}/commit").json()
    summary["commitSeconds"] = time.perf_counter() - committing
    return time.perf_counter() - started, summary


def run(workdir: Path, quick: bool) -> list[str]:
    rows = 100_000 if quick else 1_000_000
    latency_runs = 10 if quick else 30
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    bodies = make_bodies(rows, PART_ROWS)
    single = make_bodies(10_000, 10_000, seed=2)[0]
    body_mb = sum(len(b) for b in bodies) / 1e6

    # The reference runs before and after focusbase (the machine is shared): the mean of both is used.
    ref_before = reference(bodies, workdir / "reference-1.duckdb")

    data_dir = workdir / "data"
    data_dir.mkdir()
    catalog = Catalog.in_dir(data_dir)
    key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="bench", scopes=["admin"]).key
    catalog.close()
    process, url = start_server(
        data_dir, {"FOCUSBASE_RATE_LIMIT_INGEST_PER_MINUTE": "1000000"}, workdir / "server.log"
    )
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
            provider = http.post(
                "/api/v1/providers", json={"name": "Bench", "defaultCurrency": "USD"}
            ).json()["id"]
            sequential, first = push_multipart(http, provider, bodies, 1)
            if first.get("lineItemsCreated") != rows:
                raise RuntimeError(f"stored {first.get('lineItemsCreated')} of {rows} rows: {first}")
            ours, second = push_multipart(http, provider, bodies, PARALLEL)
            if second.get("lineItemsCreated") != rows or second["replaced"]["rows"] != rows:
                raise RuntimeError(f"second batch did not replace the first exactly: {second}")
            # A fresh ingest again, into a second provider, with the client's default concurrency.
            other = http.post("/api/v1/providers", json={"name": "Bench 2", "defaultCurrency": "USD"}).json()[
                "id"
            ]
            fresh_parallel, third = push_multipart(http, other, bodies, PARALLEL)
            if third.get("lineItemsCreated") != rows:
                raise RuntimeError(f"stored {third.get('lineItemsCreated')} of {rows} rows: {third}")
            latencies = []
            for _ in range(latency_runs):
                started = time.perf_counter()
                response = http.post(f"/api/v1/public/ingest/focus/{provider}", content=single)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"push refused: {response.text[:500]}")
    finally:
        process.terminate()
        process.wait(timeout=60)
    ref_after = reference(bodies, workdir / "reference-2.duckdb")
    ref_seconds = (ref_before + ref_after) / 2

    ratio = sequential / ref_seconds
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    verdict = "meets" if ratio <= RATIO_TARGET else "MISSES"
    return [
        f"Rows: {rows:,} in {len(bodies)} parts of {PART_ROWS:,} ({body_mb:.0f} MB of JSON), 14 columns.",
        "",
        "| measurement | seconds | rows/s |",
        "|---|---:|---:|",
        f"| reference: orjson.loads + Arrow + DuckDB insert (mean of {ref_before:.2f} before and "
        f"{ref_after:.2f} after) | {ref_seconds:.2f} | {rows / ref_seconds:,.0f} |",
        f"| focusbase: multi-part batch over HTTP, parts one at a time | {sequential:.2f} | "
        f"{rows / sequential:,.0f} |",
        f"| focusbase: multi-part batch over HTTP, {PARALLEL} parts in flight (`focusbase push` default), "
        f"replacing the first | {ours:.2f} | {rows / ours:,.0f} |",
        f"| focusbase: fresh multi-part batch into a second provider, {PARALLEL} parts in flight | "
        f"{fresh_parallel:.2f} | {rows / fresh_parallel:,.0f} |",
        "",
        f"Ratio focusbase (the first batch: a fresh ingest, as the reference) / reference: **{ratio:.2f}** "
        f"(target <= {RATIO_TARGET}: {verdict}); the second batch ({PARALLEL} parts in flight, replacing "
        f"the first): {ours / ref_seconds:.2f}; a fresh batch with {PARALLEL} parts in flight: "
        f"{fresh_parallel / ref_seconds:.2f}.",
        "",
        f"Commit requests: {first['commitSeconds']:.2f} s for {rows:,} staged rows, "
        f"{second['commitSeconds']:.2f} s for {rows:,} more that supersede them.",
        "",
        f"Single 10,000-row push ({latency_runs} requests, replace_days): p50 {p50 * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms.",
    ]
