"""Benchmark: the explorer over `focusbase demo-data` rows, against DuckDB answering directly.

Setup: N demo rows (FOCUS 1.3, 13 months) are bulk-loaded into the warehouse as one committed batch and the
daily rollup is built from them (the rebuild a data directory gets on open). Then, in the same run:
- through the in-process ASGI app (auth, rate limit, query model, rollup aggregate, freshness markers,
  JSON): `POST /api/v1/explorer/query` for daily x ServiceName top 20 over all 13 months, and monthly x
  provider x ServiceCategory; p50 and p95 over repeated requests;
- DuckDB directly: the same aggregates (same top 20 + Other) over a table built for them (only the columns
  the queries read, from the same rows);
- a staged multi-part batch of N / 10 rows (1,000,000 at N = 10,000,000; the first days of the data, about
  40 of the 395), in PARTS parts, replacing the same days, committed with the ingest commit service
  (`ingest.batches.commit_batch`, what `POST /api/v1/batches/{id}/commit` calls) with the rollup maintained
  (each part summed into the batch's pre-aggregates when it is staged, as the stager does) against the same
  commit with maintenance suspended (parts staged without sums, `storage.rollups.maintenance_suspended`, a
  benchmark aid), alternating, median of each; a CHECKPOINT (not timed) after each commit, so none of them
  pays for a checkpoint the others triggered. The time to stage the parts is reported for both sides: the
  aggregation moved from the commit to staging, and that is what it costs there.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from benchmarks.bench_query import load
from focusbase.analytics.rollups import rebuild_rollups
from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.demo.writer import write_demo_data
from focusbase.focus import Dataset
from focusbase.ingest.batches import commit_batch, get_batch
from focusbase.runtime import Runtime
from focusbase.storage import Warehouse, cost_rows, rollups
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog
from focusbase.tenancy.keys import create_key

DAYS = 395  # 13 months from 2025-01-01
REPEATS = 30
COMMITS = 5  # per side
BATCH_SHARE = 10  # the committed batch is 1/10 of the rows: 1,000,000 of 10,000,000
PARTS = 10  # parts of the committed batch (100,000 rows each at 10,000,000)
QUERIES = {
    "daily x ServiceName top 20": {
        "metric": "EffectiveCost",
        "grain": "day",
        "groupBy": ["ServiceName"],
        "top": 20,
    },
    "monthly x provider x ServiceCategory": {
        "metric": "EffectiveCost",
        "grain": "month",
        "groupBy": ["provider", "ServiceCategory"],
    },
}
DIRECT = {
    "daily x ServiceName top 20": """
        WITH base AS (SELECT "BillingCurrency" AS c, charge_day AS d, "ServiceName" AS s,
                             sum("EffectiveCost") AS v FROM bench_flat GROUP BY ALL),
             ranked AS (SELECT c, s, row_number() OVER (PARTITION BY c ORDER BY sum(v) DESC NULLS LAST, s)
                        AS rn FROM base GROUP BY c, s)
        SELECT base.c, d, CASE WHEN rn <= 20 THEN base.s END AS s, rn > 20 AS other,
               CAST(sum(v) AS VARCHAR) FROM base JOIN ranked ON base.c IS NOT DISTINCT FROM ranked.c
               AND base.s IS NOT DISTINCT FROM ranked.s GROUP BY ALL ORDER BY 1, 2, 5 DESC""",
    "monthly x provider x ServiceCategory": """
        SELECT "BillingCurrency", date_trunc('month', charge_day) AS m, provider_id, "ServiceCategory",
               CAST(sum("EffectiveCost") AS VARCHAR) FROM bench_flat GROUP BY ALL ORDER BY 1, 2, 5 DESC""",
}


def _timed(fn: Callable[[], object], repeats: int = REPEATS) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1]


def _stage(warehouse: Warehouse, batch_id: str, rows: int, maintained: bool) -> tuple[float, bool]:
    """Open a replace_days batch and stage `rows` rows of `bench_source` as PARTS parts, each in its own
    transaction like the stager's (with its rollup sums when `maintained`); returns the staging seconds and
    whether the parts were summed (the stager stops when sums do not shrink them)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with warehouse.transaction() as cur:
        cur.execute(
            "INSERT INTO batches (id, workspace_id, provider_id, dataset, source, mode, status, created_at,"
            " updated_at) VALUES (?, ?, 'prv_bench', 'CostAndUsage', 'multipart', 'replace_days', 'received',"
            " ?, ?)",
            [batch_id, DEFAULT_WORKSPACE_ID, now, now],
        )
    size = -(-rows // PARTS)
    elapsed = 0.0
    summing = maintained
    for first in range(1, rows + 1, size):
        last = min(rows, first + size - 1)
        started = time.perf_counter()
        with warehouse.transaction() as cur:
            # Row n of the batch is staged with row_seq -n, as cost_rows.insert stages a part's rows.
            cur.execute(
                "INSERT INTO cost_rows BY NAME SELECT * EXCLUDE (n) REPLACE (-n AS row_seq, ? AS batch_id,"
                " ? AS superseded_by) FROM bench_source WHERE n BETWEEN ? AND ?",
                [batch_id, cost_rows.staged_marker(batch_id), first, last],
            )
            if summing:
                # As the stager: a batch whose parts do not shrink when summed stops summing them.
                summing = cost_rows.stage_rollup(
                    cur, Dataset.COST_AND_USAGE, batch_id, first, last, last - first + 1
                )
        elapsed += time.perf_counter() - started
    return elapsed, summing


def _commit(runtime: Runtime, batch_id: str, maintained: bool) -> float:
    batch = get_batch(runtime, DEFAULT_WORKSPACE_ID, batch_id)
    assert batch is not None
    started = time.perf_counter()
    if maintained:
        commit_batch(runtime, batch)
    else:
        with rollups.maintenance_suspended():
            commit_batch(runtime, batch)
    elapsed = time.perf_counter() - started
    with runtime.warehouse.cursor() as cur:
        # Not timed: every measured commit starts with an empty write-ahead log, so a checkpoint DuckDB runs
        # when the log passes its threshold never lands on one side only.
        cur.execute("CHECKPOINT")
    return elapsed


def run(workdir: Path, quick: bool) -> list[str]:
    """Explorer p50/p95 through the API vs DuckDB directly, and commit time with and without the rollup."""
    rows_wanted = 1_000_000 if quick else 10_000_000
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "explorer-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    parquet = workdir / f"demo-{rows_wanted}-{DAYS}d.parquet"
    reused = parquet.exists()
    started = time.perf_counter()
    if not reused:
        write_demo_data(parquet, rows_wanted, focus_version="1.3", days=DAYS)
    generated = time.perf_counter() - started
    Catalog.in_dir(data_dir).close()
    started = time.perf_counter()
    loaded = load(data_dir, parquet)
    load_s = time.perf_counter() - started

    settings = Settings(data_dir=data_dir, rate_limit_read_per_minute=1_000_000)
    lines: list[str] = []
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        warehouse: Warehouse = runtime.warehouse
        started = time.perf_counter()
        rollup_rows = rebuild_rollups(warehouse)
        rebuild_s = time.perf_counter() - started
        key = create_key(
            runtime.catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="bench", scopes=["read"]
        ).key
        headers = {"Authorization": f"Bearer {key}"}
        with warehouse.transaction() as cur:
            cur.execute(
                'CREATE OR REPLACE TABLE bench_flat AS SELECT charge_day, "BillingCurrency", "ServiceName",'
                ' "ServiceCategory", provider_id, "EffectiveCost" FROM live_cost_rows'
            )
        lines.append(
            f"- rows: {loaded:,} demo rows over {DAYS} days (demo-data "
            + ("file reused" if reused else f"generated in {generated:.1f} s")
            + f", loaded in {load_s:.1f} s); daily rollup: {rollup_rows:,} rows, rebuilt in {rebuild_s:.1f} s"
        )
        for name, query in QUERIES.items():
            checked = client.post("/api/v1/explorer/query", json=query, headers=headers)
            assert checked.status_code == 200 and checked.json()["source"] == "rollup", checked.text

            def api(query: dict[str, object] = query) -> None:
                # Server time: the response body is not parsed on the client side.
                response = client.post("/api/v1/explorer/query", json=query, headers=headers)
                assert response.status_code == 200

            def direct(sql: str = DIRECT[name]) -> None:
                with warehouse.cursor() as cur:
                    cur.execute(sql).fetchall()

            api_times, duck_times = _timed(api), _timed(direct)
            cells = len(checked.json()["rows"])
            lines.append(
                f"- {name} ({cells:,} result rows): API p50 {statistics.median(api_times):.1f} ms, "
                f"p95 **{_p95(api_times):.1f} ms** (target <= 300 ms); DuckDB directly over `bench_flat` "
                f"p50 {statistics.median(duck_times):.1f} ms, p95 {_p95(duck_times):.1f} ms; "
                f"API/DuckDB p95 **{_p95(api_times) / _p95(duck_times):.2f}x** (target <= 1.5x)"
            )
        with warehouse.transaction() as cur:
            cur.execute("DROP TABLE bench_flat")
            days = [
                r[0]
                for r in cur.execute("SELECT DISTINCT charge_day FROM live_cost_rows ORDER BY 1").fetchall()
            ]
            per_day = loaded / max(len(days), 1)
        batch_rows = max(1, loaded // BATCH_SHARE)
        chosen = days[: max(1, min(len(days), round(batch_rows / per_day)))]
        with warehouse.transaction() as cur:
            cur.execute(
                "CREATE OR REPLACE TABLE bench_source AS SELECT *, row_number() OVER () AS n"
                " FROM (SELECT * FROM live_cost_rows WHERE list_contains(?, charge_day) LIMIT ?)",
                [chosen, batch_rows],
            )
            found = cur.execute("SELECT count(*) FROM bench_source").fetchone()
            batch_rows = int(found[0]) if found else 0
        times: dict[bool, list[float]] = {True: [], False: []}
        staging: dict[bool, list[float]] = {True: [], False: []}
        summed = True
        for i in range(COMMITS * 2):
            maintained = i % 2 == 1  # the last commit keeps the rollup, so it is exact again afterwards
            batch_id = f"bat_benchcommit{i}"
            seconds, summing = _stage(warehouse, batch_id, batch_rows, maintained)
            staging[maintained].append(seconds)
            summed = summed and (summing or not maintained)
            with warehouse.cursor() as cur:
                cur.execute("CHECKPOINT")  # not timed, as after each commit
            times[maintained].append(_commit(runtime, batch_id, maintained))
        with warehouse.transaction() as cur:
            cur.execute("DROP TABLE bench_source")
        with_rollup, without = statistics.median(times[True]), statistics.median(times[False])
        staged_with, staged_without = statistics.median(staging[True]), statistics.median(staging[False])
        lines.append(
            f"- commit (`commit_batch`) of a staged {batch_rows:,}-row batch in {PARTS} parts replacing "
            f"{len(chosen)} days: with rollup upkeep {with_rollup:.2f} s, without {without:.2f} s "
            f"(medians of {COMMITS}, alternating): **{with_rollup / without:.2f}x** (target <= 1.3x); "
            f"staging its parts with their rollup sums {staged_with:.2f} s, without {staged_without:.2f} s "
            f"(+{staged_with - staged_without:.2f} s, {staged_with / staged_without:.2f}x)"
            + ("" if summed else "; its parts did not shrink when summed, so the commit summed its rows")
        )
        # The rollup is still exact after the commits.
        with warehouse.cursor() as cur:
            kept = cur.execute(
                'SELECT sum(row_count), CAST(sum("EffectiveCost") AS VARCHAR) FROM cost_rollup_daily'
            ).fetchone()
            live = cur.execute(
                'SELECT count(*), CAST(sum("EffectiveCost") AS VARCHAR) FROM live_cost_rows'
            ).fetchone()
        assert kept == live, (kept, live)
    return lines
