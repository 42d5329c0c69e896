"""Benchmark: the FOCUS read API over `focusbase demo-data` rows, against DuckDB answering directly.

Setup: demo data (FOCUS 1.3 Parquet) is bulk-loaded into the warehouse as one committed batch. Then, through
the in-process ASGI app (auth, rate limit, filters, keyset page, summary, JSON), we time
- the first page (pageSize 1000, two filters), p50 over repeated requests;
- page 500 of the same walk (its token taken from a real walk), p50 over repeated requests;
and, in the same run on the same warehouse, DuckDB running the equivalent query directly (the same 1000
rows fetched in row_seq order plus the count of matches).
"""

from __future__ import annotations

import shutil
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.demo.writer import write_demo_data
from focusbase.focus import Dataset, columns
from focusbase.storage import Warehouse
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog
from focusbase.storage.served import clear_summary_cache
from focusbase.tenancy.keys import create_key

PAGE_SIZE = 1000
FILTERS = {"chargeCategory": "Usage", "billingCurrency": "USD"}
DEEP_PAGE = 500
REPEATS = 15


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load(data_dir: Path, parquet: Path) -> int:
    """Bulk-load a demo Parquet file into cost_rows as one committed batch; returns the row count."""
    cols = columns("1.3", Dataset.COST_AND_USAGE)
    select = []
    for name, col in cols.items():
        q = _quote(name)
        select.append(f"timezone('UTC', {q}) AS {q}" if col.data_type == "Date/Time" else q)
    warehouse = Warehouse.in_dir(data_dir)
    batch = "bat_bench" + uuid.uuid4().hex[:8]
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        with warehouse.transaction() as cur:
            cur.execute(
                "INSERT INTO batches (id, workspace_id, provider_id, dataset, source, mode, status,"
                " created_at, updated_at, committed_at) VALUES (?, ?, 'prv_bench', 'CostAndUsage', 'parquet',"
                " 'append', 'committed', ?, ?, ?)",
                [batch, DEFAULT_WORKSPACE_ID, now, now, now],
            )
            path = "'" + str(parquet).replace("'", "''") + "'"
            cur.execute(
                "INSERT INTO cost_rows BY NAME SELECT nextval('cost_row_seq') AS row_seq,"
                " ? AS workspace_id, 'prv_bench' AS provider_id, ? AS batch_id,"
                ' CAST("ChargePeriodStart" AS DATE) AS charge_day, *'
                f" FROM (SELECT {', '.join(select)} FROM read_parquet({path}))",
                [DEFAULT_WORKSPACE_ID, batch],
            )
            row = cur.execute("SELECT count(*) FROM cost_rows").fetchone()
            assert row is not None
            rows = int(row[0])
    finally:
        warehouse.close()
    return rows


def _p50(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(workdir: Path, quick: bool) -> list[str]:
    """Measure first and deep pages through the API and the same queries in DuckDB directly."""
    rows_wanted = 1_000_000 if quick else 10_000_000
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "query-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    parquet = workdir / f"demo-{rows_wanted}.parquet"
    started = time.perf_counter()
    reused = parquet.exists()
    if not reused:
        write_demo_data(parquet, rows_wanted, focus_version="1.3")
    generated = time.perf_counter() - started
    Catalog.in_dir(data_dir).close()
    started = time.perf_counter()
    loaded = load(data_dir, parquet)
    load_s = time.perf_counter() - started

    settings = Settings(data_dir=data_dir, rate_limit_read_per_minute=1_000_000)
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        key = create_key(
            runtime.catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="bench", scopes=["read"]
        ).key
        headers = {"Authorization": f"Bearer {key}"}
        params = {**FILTERS, "pageSize": str(PAGE_SIZE)}

        def get(token: str | None = None) -> dict[str, object]:
            query = dict(params) if token is None else {**params, "pageToken": token}
            response = client.get("/focus/v1/cost-and-usage", params=query, headers=headers)
            assert response.status_code == 200, response.text
            body: dict[str, object] = response.json()
            return body

        first = get()
        total = int(first["totalRecords"])  # type: ignore[call-overload]
        started = time.perf_counter()
        token = first["nextPageToken"]
        for _ in range(DEEP_PAGE - 2):
            assert isinstance(token, str), "fewer matching rows than the deep page needs"
            token = get(token)["nextPageToken"]
        walk_s = time.perf_counter() - started
        assert isinstance(token, str)
        deep_token: str = token
        api_first = _p50(lambda: client.get("/focus/v1/cost-and-usage", params=params, headers=headers))

        def cold_first() -> None:
            clear_summary_cache()
            client.get("/focus/v1/cost-and-usage", params=params, headers=headers)

        api_cold = _p50(cold_first)
        api_deep = _p50(
            lambda: client.get(
                "/focus/v1/cost-and-usage", params={**params, "pageToken": deep_token}, headers=headers
            )
        )

        # DuckDB directly, same process, same warehouse: the same page (all columns) and the count.
        where = '"ChargeCategory" = ? AND "BillingCurrency" = ? AND workspace_id = ?'
        values = [FILTERS["chargeCategory"], FILTERS["billingCurrency"], DEFAULT_WORKSPACE_ID]
        deep_after = (DEEP_PAGE - 1) * PAGE_SIZE

        def direct_first() -> None:
            with runtime.warehouse.cursor() as cur:
                cur.sql(
                    f"SELECT * FROM live_cost_rows WHERE {where} ORDER BY row_seq LIMIT ?",
                    params=[*values, PAGE_SIZE],
                ).to_arrow_table()
                cur.execute(f"SELECT count(*) FROM live_cost_rows WHERE {where}", values).fetchone()

        with runtime.warehouse.cursor() as cur:
            seq_row = cur.execute(
                f"SELECT row_seq FROM live_cost_rows WHERE {where} ORDER BY row_seq LIMIT 1 OFFSET ?",
                [*values, deep_after - 1],
            ).fetchone()
        assert seq_row is not None
        deep_seq = int(seq_row[0])

        def direct_deep() -> None:
            with runtime.warehouse.cursor() as cur:
                cur.sql(
                    f"SELECT * FROM live_cost_rows WHERE {where} AND row_seq > ? ORDER BY row_seq LIMIT ?",
                    params=[*values, deep_seq, PAGE_SIZE],
                ).to_arrow_table()
                cur.execute(f"SELECT count(*) FROM live_cost_rows WHERE {where}", values).fetchone()

        duck_first = _p50(direct_first)
        duck_deep = _p50(direct_deep)

    filters = " & ".join(f"{k}={v}" for k, v in FILTERS.items())
    return [
        f"- rows in warehouse: {loaded:,} (demo-data "
        + ("file reused" if reused else f"generated in {generated:.1f} s")
        + ","
        f" loaded in {load_s:.1f} s);"
        f" filters `{filters}` match {total:,}",
        f"- API first page (pageSize {PAGE_SIZE}, 2 filters): p50 **{api_first:.1f} ms** (target <= 50 ms);"
        f" with the summary cache cleared before each request (count, dataLastUpdated and periods"
        f" recomputed): p50 {api_cold:.1f} ms",
        f"- API page {DEEP_PAGE}: p50 **{api_deep:.1f} ms** = **{api_deep / api_first:.2f}x** page 1"
        " (target <= 1.2x)",
        f"- DuckDB directly (same page as Arrow + count): first {duck_first:.1f} ms,"
        f" page {DEEP_PAGE} {duck_deep:.1f} ms; API/DuckDB ratio first **{api_first / duck_first:.2f}**,"
        f" page {DEEP_PAGE} **{api_deep / duck_deep:.2f}**"
        " (target <= 2)",
        f"- walking pages 2..{DEEP_PAGE - 1}: {walk_s:.1f} s"
        f" ({walk_s / (DEEP_PAGE - 2) * 1000:.1f} ms per page)",
    ]
