"""Benchmark: the ClickHouse warehouse through the chDB gateway (tests/chdb_http.py) against chDB in-process.

The same 100,000-row batch (FOCUS columns as the ingest layer hands them over: times, exact decimals, strings,
tags) is staged in one part and committed (`append`) by `ClickHouseWarehouse`, once on chDB in this process
and once over clickhouse-connect's HTTP client through the gateway, a process of its own hosting another chDB
engine. Each is run five times on fresh batches; the medians and their ratio are reported. The difference is
the HTTP interface: Arrow bodies over a socket, the gateway's spool file, a connection per request.
"""

from __future__ import annotations

import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from tests.chdb_http import running_gateway

from focusbase.config import Settings
from focusbase.storage import open_catalog
from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_client import open_client
from focusbase.storage.clickhouse_types import BatchRef
from focusbase.storage.cost_rows import Replace

ROUNDS = 5
MONEY = pa.decimal128(38, 12)
TIME = pa.timestamp("us", tz="UTC")


def rows(count: int, seq: int) -> pa.Table:
    """`count` rows over 28 days of January 2026, three services, two currencies, exact decimals."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    starts = [start + timedelta(hours=(i * 7 + seq) % (28 * 24)) for i in range(count)]
    costs = [Decimal(i % 100_000) / 1000 + Decimal("0.000000000001") for i in range(count)]
    return pa.table(
        {
            "ChargePeriodStart": pa.array(starts, TIME),
            "ChargePeriodEnd": pa.array([s + timedelta(hours=1) for s in starts], TIME),
            "BillingPeriodStart": pa.array([start] * count, TIME),
            "BilledCost": pa.array(costs, MONEY),
            "EffectiveCost": pa.array(costs, MONEY),
            "BillingCurrency": pa.array(["USD" if i % 5 else "EUR" for i in range(count)], pa.string()),
            "ServiceName": pa.array([("Compute", "Storage", "Network")[i % 3] for i in range(count)]),
            "Tags": pa.array([f'{{"team": "t{i % 17}"}}' for i in range(count)], pa.string()),
            "BillingAccountId": pa.array([f"acc-{i % 4}" for i in range(count)], pa.string()),
        }
    )


def timed_rounds(warehouse: ClickHouseWarehouse, count: int) -> list[float]:
    """Seconds per stage (one part) + commit of a fresh `count`-row batch, ROUNDS times."""
    seconds = []
    for seq in range(1, ROUNDS + 1):
        table = rows(count, seq)
        ref = BatchRef("ws_default", "prv_bench", f"prv_bench_bat{seq}", seq)
        started = time.perf_counter()
        warehouse.stage(ref, 0, 0, table)
        outcome = warehouse.commit(ref, Replace("append"))
        seconds.append(time.perf_counter() - started)
        assert outcome.rows == count
    return seconds


def run(workdir: Path, quick: bool) -> list[str]:
    count = 10_000 if quick else 100_000
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    catalog = open_catalog(Settings(data_dir=workdir / "catalog"))
    local = ClickHouseWarehouse(open_client(f"chdb://{workdir / 'local'}?database=bench"), catalog)
    in_process = timed_rounds(local, count)
    local_sums = local.live_sums("ws_default")
    local.close()
    with running_gateway(workdir / "gateway") as url:
        admin = open_client(url)
        admin.command("CREATE DATABASE bench")
        admin.close()
        remote = ClickHouseWarehouse(open_client(f"{url}/bench"), catalog)
        over_http = timed_rounds(remote, count)
        assert remote.live_sums("ws_default") == local_sums  # the same rows and exact sums on both
        remote.close()
    catalog.close()
    a, b = statistics.median(in_process), statistics.median(over_http)
    return [
        f"{count:,}-row stage (one part) + commit (`append`), median of {ROUNDS} fresh batches:",
        "",
        "| warehouse client | seconds, median (each round) | rows/s |",
        "|---|---|---|",
        f"| chDB in-process | {a:.2f} ({_rounds(in_process)}) | {count / a:,.0f} |",
        f"| HTTP through the chDB gateway | {b:.2f} ({_rounds(over_http)}) | {count / b:,.0f} |",
        "",
        f"Gateway / in-process: **{b / a:.2f}x**.",
    ]


def _rounds(seconds: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in seconds)
