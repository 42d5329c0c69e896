"""Benchmark: the embedded and the scale-out storage profiles side by side.

1. Through the real server (`focusbase serve`, one process each), the same work on the embedded profile
   (SQLite catalog, DuckDB warehouse), with the catalog on PostgreSQL 15 (`FOCUSBASE_CATALOG_URL`, DuckDB
   warehouse) and on the scale-out profile (PostgreSQL catalog, ClickHouse warehouse on chDB in the server
   process, `FOCUSBASE_WAREHOUSE_URL`): a multi-part push, single pushes, a CSV import, FOCUS query pages
   (first and deep), an explorer query and a CSV export.
2. The warehouse engines on the same rows, in one process: the ClickHouse warehouse (`storage/clickhouse.py`,
   on chDB, the ClickHouse engine embedded) against plain DuckDB doing the same work without focusbase's
   semantics (insert, keyset page, daily totals per service, exact sums per currency). The ratio is the cost
   of the ClickHouse engine plus the visibility-table semantics over a bare DuckDB table.
3. The services on both warehouses holding the same rows (the embedded profile's data directory after part 1,
   copied into the ClickHouse warehouse as `focusbase migrate-storage` copies it): the FOCUS read service
   (`query/service.py`: filters, keyset pages of served records, totalRecords, dataLastUpdated, page tokens),
   the explorer service (`analytics/explorer.py`) and an export file (`export/service.py`).

PostgreSQL is a throw-away server on a Unix socket with fsync off (tests/postgres.py): an upper bound for a
networked, durable one.
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pyarrow as pa
from tests.postgres import throwaway_server, unavailable_reason

from benchmarks.bench_push import PARALLEL, PART_ROWS, make_bodies, push_multipart
from benchmarks.server import start_server
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog
from focusbase.tenancy.keys import create_key

RUNS = 15
PAGE_SIZE = 1000
DEEP_PAGE = 50


def _p50(call: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


def _csv(bodies: list[bytes], path: Path) -> int:
    """The pushed rows as a FOCUS CSV (Tags as JSON text), for the import."""
    count = 0
    with path.open("w", newline="") as handle:
        writer: csv.DictWriter[str] | None = None
        for body in bodies:
            for row in orjson.loads(body)["rows"]:
                row["Tags"] = orjson.dumps(row["Tags"]).decode()
                if writer is None:
                    writer = csv.DictWriter(handle, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
                count += 1
    return count


def _wait_batch(http: httpx.Client, batch_id: str) -> dict[str, Any]:
    while True:
        batch = _ok(http.get(f"/api/v1/batches/{batch_id}"))
        if batch["status"] not in ("received", "validating"):
            return batch
        time.sleep(0.05)


def _server_work(
    data_dir: Path, env: dict[str, str], key: str, bodies: list[bytes], csv_path: Path
) -> dict[str, float]:
    rows = sum(len(orjson.loads(b)["rows"]) for b in bodies)
    single = make_bodies(10_000, 10_000, seed=2)[0]
    process, url = start_server(
        data_dir,
        {
            **env,
            "FOCUSBASE_RATE_LIMIT_INGEST_PER_MINUTE": "1000000",
            "FOCUSBASE_RATE_LIMIT_READ_PER_MINUTE": "1000000",
        },
        data_dir.parent / f"{data_dir.name}.log",
    )
    figures: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
            provider = _ok(http.post("/api/v1/providers", json={"name": "Bench", "defaultCurrency": "USD"}))[
                "id"
            ]
            seconds, summary = push_multipart(http, provider, bodies, PARALLEL)
            if summary.get("lineItemsCreated") != rows:
                raise RuntimeError(f"push stored {summary.get('lineItemsCreated')} of {rows} rows")
            figures[f"push {rows:,} rows, {PARALLEL} parts in flight (s)"] = seconds

            def push_one() -> None:
                _ok(http.post(f"/api/v1/public/ingest/focus/{provider}", content=single))

            figures["single 10,000-row push, p50 (ms)"] = _p50(push_one, 10) * 1000

            other = _ok(http.post("/api/v1/providers", json={"name": "Import", "defaultCurrency": "USD"}))[
                "id"
            ]
            started = time.perf_counter()
            with csv_path.open("rb") as handle:
                job = _ok(
                    http.post(
                        f"/api/v1/providers/{other}/imports",
                        files={"file": (csv_path.name, handle, "text/csv")},
                    )
                )
            batch = _wait_batch(http, job["batchId"]) if "batchId" in job else job
            if batch.get("status") != "committed":
                raise RuntimeError(f"import ended {batch.get('status')}: {str(batch)[:500]}")
            figures[f"CSV import {rows:,} rows (s)"] = time.perf_counter() - started

            params = {"pageSize": str(PAGE_SIZE), "billingCurrency": "USD"}
            page = _ok(http.get("/focus/v1/cost-and-usage", params=params))
            token = page.get("nextPageToken")
            for _ in range(DEEP_PAGE - 2):
                token = _ok(http.get("/focus/v1/cost-and-usage", params={**params, "pageToken": token}))[
                    "nextPageToken"
                ]
            figures[f"FOCUS query, first page of {PAGE_SIZE}, p50 (ms)"] = (
                _p50(lambda: _ok(http.get("/focus/v1/cost-and-usage", params=params))) * 1000
            )
            figures[f"FOCUS query, page {DEEP_PAGE}, p50 (ms)"] = (
                _p50(lambda: _ok(http.get("/focus/v1/cost-and-usage", params={**params, "pageToken": token})))
                * 1000
            )
            query = {"metric": "EffectiveCost", "grain": "day", "groupBy": ["ServiceName"], "top": 20}
            figures["explorer daily x ServiceName, p50 (ms)"] = (
                _p50(lambda: _ok(http.post("/api/v1/explorer/query", json=query))) * 1000
            )
            started = time.perf_counter()
            body = {
                "billingPeriodStart": "2026-06-01T00:00:00Z",
                "billingPeriodEnd": "2026-07-01T00:00:00Z",
                "format": "csv",
            }
            job = _ok(http.post("/focus/v1/cost-and-usage/export", json=body))
            while job["status"] in ("Pending", "Processing"):
                time.sleep(0.05)
                job = _ok(http.get(f"/focus/v1/cost-and-usage/export/{job['jobId']}"))
            if job["status"] != "Complete":
                raise RuntimeError(f"export ended {job['status']}: {job.get('error')}")
            figures["CSV export of June (s)"] = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=60)
    return figures


def _arrow(bodies: list[bytes]) -> pa.Table:
    """The pushed rows as Arrow with the stored types (money DECIMAL(38, 12), times UTC)."""
    money = pa.decimal128(38, 12)
    rows = [row for body in bodies for row in orjson.loads(body)["rows"]]
    stamp = pa.timestamp("us", tz="UTC")
    from datetime import datetime

    def ts(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    return pa.table(
        {
            "ChargePeriodStart": pa.array([ts(r["ChargePeriodStart"]) for r in rows], stamp),
            "ChargePeriodEnd": pa.array([ts(r["ChargePeriodEnd"]) for r in rows], stamp),
            "BilledCost": pa.array([Decimal(str(r["BilledCost"])) for r in rows], money),
            "EffectiveCost": pa.array([Decimal(str(r["EffectiveCost"])) for r in rows], money),
            "BillingCurrency": pa.array([r["BillingCurrency"] for r in rows]),
            "ChargeCategory": pa.array([r["ChargeCategory"] for r in rows]),
            "ServiceName": pa.array([r["ServiceName"] for r in rows]),
            "RegionId": pa.array([r["RegionId"] for r in rows]),
            "ResourceId": pa.array([r["ResourceId"] for r in rows]),
            "SubAccountId": pa.array([r["SubAccountId"] for r in rows]),
            "Tags": pa.array([orjson.dumps(r["Tags"]).decode() for r in rows]),
        }
    )


@contextmanager
def _clickhouse(path: Path, catalog_dir: Path) -> Iterator[Any]:
    import clickhouse_connect

    from focusbase.config import Settings
    from focusbase.storage import open_catalog
    from focusbase.storage.clickhouse import ClickHouseWarehouse

    admin = clickhouse_connect.get_client(interface="chdb", path=str(path))
    database = f"bench_{uuid.uuid4().hex[:8]}"
    admin.command(f"CREATE DATABASE {database}")
    client = clickhouse_connect.get_client(interface="chdb", path=str(path), database=database)
    catalog = open_catalog(Settings(data_dir=catalog_dir))
    warehouse = ClickHouseWarehouse(client, catalog)
    warehouse.migrate()
    try:
        yield warehouse
    finally:
        catalog.close()


def _engines(arrow_rows: pa.Table, workdir: Path) -> list[tuple[str, float, float]]:
    """(operation, DuckDB seconds, ClickHouse warehouse seconds) on the same rows."""
    from focusbase.storage.clickhouse_types import BatchRef
    from focusbase.storage.cost_rows import Replace

    out: list[tuple[str, float, float]] = []
    con = duckdb.connect(str(workdir / "engines.duckdb"))
    rows = arrow_rows.num_rows
    started = time.perf_counter()
    con.register("arrow_rows", arrow_rows)
    con.execute("CREATE TABLE cost AS SELECT row_number() OVER () AS row_id, * FROM arrow_rows")
    duck_load = time.perf_counter() - started
    catalog_dir = workdir / "engines-catalog"
    catalog_dir.mkdir(exist_ok=True)
    with _clickhouse(workdir / "chdb", catalog_dir) as warehouse:
        batch = BatchRef(DEFAULT_WORKSPACE_ID, "prv_bench", "bat_bench", 1)
        started = time.perf_counter()
        for part, offset in enumerate(range(0, rows, PART_ROWS)):
            warehouse.stage(batch, part, offset, arrow_rows.slice(offset, PART_ROWS))
        warehouse.commit(batch, Replace("append"))
        ch_load = time.perf_counter() - started
        out.append(
            (
                f"load {rows:,} rows (ClickHouse: staged in parts of {PART_ROWS:,}, committed)",
                duck_load,
                ch_load,
            )
        )

        columns = ["ChargePeriodStart", "BilledCost", "BillingCurrency", "ServiceName", "ResourceId"]
        select = ", ".join(f'"{c}"' for c in columns)
        deep_after = (DEEP_PAGE - 1) * PAGE_SIZE

        def duck_page(after: int) -> None:
            con.execute(
                f"SELECT row_id, {select} FROM cost WHERE row_id > ? ORDER BY row_id LIMIT ?",
                [after, PAGE_SIZE + 1],
            ).fetchall()

        first = warehouse.read_page(DEFAULT_WORKSPACE_ID, columns, limit=PAGE_SIZE)
        after = first.next_after or 0
        for _ in range(DEEP_PAGE - 2):
            after = (
                warehouse.read_page(DEFAULT_WORKSPACE_ID, columns, after=after, limit=PAGE_SIZE).next_after
                or 0
            )
        out.append(
            (
                f"keyset page of {PAGE_SIZE}, first",
                _p50(lambda: duck_page(0)),
                _p50(lambda: warehouse.read_page(DEFAULT_WORKSPACE_ID, columns, limit=PAGE_SIZE)),
            )
        )
        out.append(
            (
                f"keyset page of {PAGE_SIZE}, page {DEEP_PAGE}",
                _p50(lambda: duck_page(deep_after)),
                _p50(
                    lambda: warehouse.read_page(DEFAULT_WORKSPACE_ID, columns, after=after, limit=PAGE_SIZE)
                ),
            )
        )
        out.append(
            (
                "daily BilledCost per currency x ServiceName (exact)",
                _p50(
                    lambda: con.execute(
                        'SELECT CAST("ChargePeriodStart" AS DATE), "BillingCurrency", "ServiceName",'
                        ' sum("BilledCost") FROM cost GROUP BY ALL ORDER BY ALL'
                    ).fetchall()
                ),
                _p50(lambda: warehouse.daily_totals(DEFAULT_WORKSPACE_ID, "ServiceName")),
            )
        )
        duck_sums = con.execute(
            'SELECT "BillingCurrency", count(*), sum("BilledCost") FROM cost GROUP BY 1 ORDER BY 1'
        ).fetchall()
        ch_sums = warehouse.live_sums(DEFAULT_WORKSPACE_ID)
        for currency, count, total in duck_sums:
            mine = ch_sums[currency]
            if int(mine["rows"]) != count or Decimal(str(mine["BilledCost"])) != total:
                raise RuntimeError(f"{currency}: ClickHouse {mine} vs DuckDB {count} {total}")
        out.append(
            (
                "rows and exact sums per currency (checked equal)",
                _p50(
                    lambda: con.execute(
                        'SELECT "BillingCurrency", count(*), sum("BilledCost"), sum("EffectiveCost")'
                        " FROM cost GROUP BY 1"
                    ).fetchall()
                ),
                _p50(lambda: warehouse.live_sums(DEFAULT_WORKSPACE_ID)),
            )
        )
    con.close()
    return out


def _explorer_and_export(
    duck: Any, warehouse: Any, catalog: Catalog, settings: Any, workdir: Path
) -> list[tuple[str, float, float]]:
    """The explorer service and an export file, on both warehouses (answers compared before timing)."""
    from datetime import datetime

    from focusbase.analytics.explorer import run_query
    from focusbase.analytics.model import parse_query
    from focusbase.export.service import write_export
    from focusbase.export.spec import ExportSpec
    from focusbase.query.filters import Scope
    from focusbase.storage.explorer_reads import DuckDBExplorerReads
    from focusbase.storage.export_rows import DuckDBExportRows

    scope = Scope(DEFAULT_WORKSPACE_ID)
    query = parse_query(
        {"metric": "EffectiveCost", "grain": "day", "groupBy": ["ServiceName"], "top": 20}, max_groups=10_000
    )
    readers: dict[str, Any] = {"duck": DuckDBExplorerReads(duck), "ch": warehouse}
    answers = {name: run_query(r, catalog, settings, scope, query) for name, r in readers.items()}
    if answers["duck"].aggregate != answers["ch"].aggregate:
        raise RuntimeError("the explorer's answers differ between the warehouses")
    spec = ExportSpec(billing_period_start=datetime(2026, 6, 1), billing_period_end=datetime(2026, 7, 1))
    writers: dict[str, Any] = {"duck": DuckDBExportRows(duck), "ch": warehouse}
    written = {
        name: write_export(w, scope, spec, workdir / f"june-{name}.csv") for name, w in writers.items()
    }
    if written["duck"] != written["ch"]:
        raise RuntimeError(f"the exports differ: {written}")

    def export(name: str) -> None:
        write_export(writers[name], scope, spec, workdir / f"june-{name}.csv")

    return [
        (
            "explorer daily x ServiceName, top 20 (EffectiveCost)",
            _p50(lambda: run_query(readers["duck"], catalog, settings, scope, query)),
            _p50(lambda: run_query(readers["ch"], catalog, settings, scope, query)),
        ),
        (
            f"CSV export of June ({sum(written['ch'].values()):,} rows)",
            _p50(lambda: export("duck"), 3),
            _p50(lambda: export("ch"), 3),
        ),
    ]


def _served(source_dir: Path, workdir: Path) -> tuple[list[str], list[tuple[str, float, float]]]:
    """The copy's figures, and (operation, DuckDB seconds, ClickHouse seconds) of the FOCUS read service."""
    from focusbase.config import Settings
    from focusbase.query.filters import CostFilters, Scope
    from focusbase.query.service import list_cost_records
    from focusbase.storage import Warehouse
    from focusbase.storage.served import DuckDBServedRecords, ServedRecords, clear_summary_cache
    from focusbase.storage.warehouse_copy import copy_warehouse

    settings = Settings(data_dir=source_dir, secret_key="bench-secret")
    duck = Warehouse.in_dir(source_dir)
    catalog = Catalog.in_dir(source_dir)
    out: list[tuple[str, float, float]] = []
    try:
        with _clickhouse(workdir / "chdb", workdir / "served-catalog") as warehouse:
            started = time.perf_counter()
            copied = copy_warehouse(duck, warehouse)
            copy_s = time.perf_counter() - started
            notes = [
                f"Copied {copied.rows_staged:,} live rows of {copied.batches_copied} batches into ClickHouse"
                f" in {copy_s:.1f} s ({copied.rows_staged / copy_s:,.0f} rows/s, `copy_warehouse`, chunks of"
                " 100,000)."
            ]
            filters = CostFilters(
                Scope(DEFAULT_WORKSPACE_ID), billing_currency="USD", charge_category="Usage"
            )

            def walk(records: ServedRecords) -> str | None:
                token = None
                for _ in range(DEEP_PAGE - 1):
                    token = list_cost_records(
                        records, catalog, settings, filters, page_size=PAGE_SIZE, page_token=token
                    ).next_page_token
                return token

            engines: dict[str, ServedRecords] = {"duck": DuckDBServedRecords(duck), "ch": warehouse}
            tokens = {name: walk(records) for name, records in engines.items()}
            firsts = {
                name: list_cost_records(records, catalog, settings, filters, page_size=PAGE_SIZE)
                for name, records in engines.items()
            }
            if firsts["duck"].total_records != firsts["ch"].total_records:
                raise RuntimeError(
                    f"totals differ: {firsts['duck'].total_records} {firsts['ch'].total_records}"
                )

            def page(name: str, token: str | None, cold: bool = False) -> Callable[[], object]:
                def call() -> object:
                    if cold:
                        clear_summary_cache()
                        warehouse.clear_summary_cache()
                    return list_cost_records(
                        engines[name], catalog, settings, filters, page_size=PAGE_SIZE, page_token=token
                    )

                return call

            label = f"read service, page of {PAGE_SIZE} ({firsts['ch'].total_records:,} matching rows)"
            out.append((f"{label}, first", _p50(page("duck", None)), _p50(page("ch", None))))
            out.append(
                (
                    f"{label}, first, no summary cache",
                    _p50(page("duck", None, cold=True)),
                    _p50(page("ch", None)),
                )
            )
            out.append(
                (
                    f"{label}, page {DEEP_PAGE}",
                    _p50(page("duck", tokens["duck"])),
                    _p50(page("ch", tokens["ch"])),
                )
            )
            out += _explorer_and_export(duck, warehouse, catalog, settings, workdir)
    finally:
        duck.close()
        catalog.close()
    return notes, out


def run(workdir: Path, quick: bool) -> list[str]:
    """Markdown lines: each operation on both profiles, and the two warehouse engines."""
    reason = unavailable_reason()
    if reason:
        return [f"skipped: {reason}"]
    rows = 100_000 if quick else 1_000_000
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    bodies = make_bodies(rows, PART_ROWS)
    csv_path = workdir / "rows.csv"
    _csv(bodies, csv_path)

    embedded_dir = workdir / "embedded"
    embedded_dir.mkdir()
    catalog = Catalog.in_dir(embedded_dir)
    key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="bench", scopes=["admin"]).key
    catalog.close()
    embedded = _server_work(embedded_dir, {}, key, bodies, csv_path)

    from focusbase.storage.postgres import PostgresCatalog

    with throwaway_server() as url:
        scale_dir = workdir / "scale"
        scale_dir.mkdir()
        postgres = PostgresCatalog(url)
        key = create_key(postgres, workspace_id=DEFAULT_WORKSPACE_ID, name="bench", scopes=["admin"]).key
        postgres.close()
        scale = _server_work(scale_dir, {"FOCUSBASE_CATALOG_URL": url}, key, bodies, csv_path)
    clickhouse: dict[str, float] | None = None
    if importlib.util.find_spec("chdb") and importlib.util.find_spec("clickhouse_connect"):
        with throwaway_server() as url:
            ch_dir = workdir / "clickhouse"
            ch_dir.mkdir()
            postgres = PostgresCatalog(url)
            key = create_key(postgres, workspace_id=DEFAULT_WORKSPACE_ID, name="bench", scopes=["admin"]).key
            postgres.close()
            env = {
                "FOCUSBASE_CATALOG_URL": url,
                "FOCUSBASE_WAREHOUSE_URL": f"chdb://{workdir / 'chdb'}?database=bench",
            }
            clickhouse = _server_work(ch_dir, env, key, bodies, csv_path)

    lines = [
        f"{rows:,} rows ({len(bodies)} parts of {PART_ROWS:,}), 14 FOCUS columns; one server process per"
        " profile.",
        "",
        "| operation, through the server | embedded (SQLite + DuckDB) | PostgreSQL catalog + DuckDB"
        " | ratio | PostgreSQL + ClickHouse (chDB in the server process) | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, value in embedded.items():
        ch = "-" if clickhouse is None else f"{clickhouse[name]:,.2f} | {clickhouse[name] / value:.2f}x"
        lines.append(f"| {name} | {value:,.2f} | {scale[name]:,.2f} | {scale[name] / value:.2f}x | {ch} |")

    try:
        import chdb  # noqa: F401
        import clickhouse_connect  # noqa: F401
    except ImportError:
        return [*lines, "", "ClickHouse engine comparison skipped: chdb / clickhouse-connect not installed"]
    engines = _engines(_arrow(bodies), workdir)
    lines += [
        "",
        f"Warehouse engines on the same {rows:,} rows, in one process:",
        "",
        "| operation | DuckDB, bare table (ms) | ClickHouse warehouse on chDB (ms) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for name, duck, ch in engines:
        lines.append(f"| {name} | {duck * 1000:,.1f} | {ch * 1000:,.1f} | {ch / duck:.2f}x |")
    notes, served = _served(embedded_dir, workdir)
    lines += [
        "",
        "The services on the embedded profile's warehouse after part 1 and on the same rows copied into the",
        "ClickHouse warehouse: the FOCUS read service (filters billingCurrency=USD and chargeCategory=Usage;",
        "records, totalRecords, dataLastUpdated, page token), the explorer and a CSV export (both checked",
        "equal on the two warehouses first). " + " ".join(notes),
        "",
        "| operation | DuckDB warehouse (ms) | ClickHouse warehouse on chDB (ms) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for name, duck, ch in served:
        lines.append(f"| {name} | {duck * 1000:,.1f} | {ch * 1000:,.1f} | {ch / duck:.2f}x |")
    return lines
