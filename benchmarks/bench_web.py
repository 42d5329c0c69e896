"""Benchmark: the Dashboard and Data Explorer pages in headless Chromium over `focusbase demo-data` rows.

Setup: N demo rows (FOCUS 1.3, 13 months) are bulk-loaded into the warehouse as one committed batch and the
daily rollup is rebuilt from them, as in bench_explorer; a real `focusbase serve` process serves the data
directory and Debian's Chromium, driven by Playwright, signs in with a read key. Then each page is loaded
REPEATS times after one warm-up load (each page must show data, and its charts drawn) and the browser's own
Navigation Timing `loadEventEnd` is read: ms from the start of the navigation, so server time, transfer,
parsing, scripts and drawing the charts. Target: <= 1.0 s on 10M rows.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.web.browser import CHROMIUM, CHROMIUM_ARGS

from benchmarks.bench_explorer import DAYS
from benchmarks.bench_query import load
from benchmarks.server import start_server
from focusbase.analytics.rollups import rebuild_rollups
from focusbase.demo.writer import write_demo_data
from focusbase.storage import Warehouse
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog
from focusbase.tenancy.keys import create_key

REPEATS = 10
LOAD_EVENT_END = "performance.getEntriesByType('navigation')[0].loadEventEnd"


def _pages(last_day: str) -> dict[str, str]:
    daily = [("metric", "EffectiveCost"), ("grain", "day"), ("g", "ServiceName"), ("top", "20")]
    return {
        "dashboard": f"/dashboard?asOf={last_day}",
        "explorer, default (all data by month x ServiceName, top 10)": "/explorer?"
        + urlencode([("metric", "EffectiveCost"), ("grain", "month"), ("g", "ServiceName"), ("top", "10")]),
        "explorer, 13 months daily x ServiceName top 20": "/explorer?" + urlencode(daily),
    }


def _load_times(page: Any, url: str) -> list[float]:
    page.goto(url)  # warm-up
    times = []
    for _ in range(REPEATS):
        page.goto(url, wait_until="load")
        page.wait_for_function(f"{LOAD_EVENT_END} > 0")
        times.append(float(page.evaluate(LOAD_EVENT_END)))
    return times


def run(workdir: Path, quick: bool) -> list[str]:
    """loadEventEnd of the dashboard and explorer pages, p50 and max over REPEATS loads each."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium")
    rows_wanted = 1_000_000 if quick else 10_000_000
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "web-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    parquet = workdir / f"demo-{rows_wanted}-{DAYS}d.parquet"
    reused = parquet.exists()
    if not reused:
        write_demo_data(parquet, rows_wanted, focus_version="1.3", days=DAYS)
    catalog = Catalog.in_dir(data_dir)
    try:
        key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="bench", scopes=["read"]).key
    finally:
        catalog.close()
    loaded = load(data_dir, parquet)
    warehouse = Warehouse.in_dir(data_dir)
    try:
        rollup_rows = rebuild_rollups(warehouse)  # as `focusbase rollups rebuild` after a bulk load
        with warehouse.cursor() as cur:
            found = cur.execute("SELECT max(charge_day) FROM live_cost_rows").fetchone()
            assert found is not None
            last_day = found[0].isoformat()
    finally:
        warehouse.close()
    started = time.perf_counter()
    process, base = start_server(
        data_dir,
        env={"FOCUSBASE_SECRET_KEY": "bench-web", "FOCUSBASE_RATE_LIMIT_READ_PER_MINUTE": "1000000"},
        log=workdir / "server.log",
    )
    made = "reused" if reused else "generated"
    lines = [
        f"- rows: {loaded:,} demo rows over {DAYS} days (demo-data file {made}), "
        f"daily rollup {rollup_rows:,} rows; "
        f"Debian Chromium headless, {REPEATS} loads per page after a warm-up"
    ]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                page.goto(base + "/sign-in")  # the first request waits for the rollup the server builds
                lines[0] += (
                    f"; server up and sign-in page served {time.perf_counter() - started:.1f} s after start"
                )
                page.get_by_label("API key").fill(key)
                with page.expect_navigation():
                    page.get_by_role("button", name="Sign in").click()
                for name, path in _pages(last_day).items():
                    page.goto(base + path)
                    assert page.locator("h1").count() == 1 and page.get_by_role("alert").count() == 0, path
                    assert page.locator(".empty").count() == 0, f"{path}: no data shown"
                    if page.locator("[data-chart-for]").count():
                        assert page.locator(".uplot canvas").count() >= 1, f"{path}: no chart drawn"
                    times = _load_times(page, base + path)
                    lines.append(
                        f"- {name} (`{path[:60]}{'...' if len(path) > 60 else ''}`): loadEventEnd p50 "
                        f"**{statistics.median(times):.0f} ms**, max {max(times):.0f} ms (target <= 1000 ms)"
                    )
            finally:
                browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return lines
