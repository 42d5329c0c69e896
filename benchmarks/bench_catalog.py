"""Benchmark: catalog operations on the embedded SQLite catalog and on the PostgreSQL one, side by side.

Through the same service functions the API calls, in one process: creating API keys (one serialised write
transaction each), authenticating them (one indexed read), and both from 4 threads at once. PostgreSQL is a
throw-away PostgreSQL 15 on a Unix socket, fsync off (tests/postgres.py), so its figures are an upper bound
for a networked, durable server; SQLite runs with the server's own settings (WAL).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.postgres import throwaway_server, unavailable_reason

from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog
from focusbase.storage.postgres import PostgresCatalog
from focusbase.tenancy.keys import authenticate_key, create_key

THREADS = 4


def _rate(count: int, work: Callable[[int], object], threads: int = 1) -> float:
    started = time.perf_counter()
    if threads == 1:
        for i in range(count):
            work(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(count)))
    return count / (time.perf_counter() - started)


def _measure(catalog: Catalog, writes: int, reads: int) -> dict[str, float]:
    keys = [
        create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name=f"warm{i}", scopes=["read"]).key
        for i in range(20)
    ]

    def write(i: int) -> object:
        return create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name=f"k{i}", scopes=["read"])

    def read(i: int) -> object:
        principal = authenticate_key(catalog, keys[i % len(keys)])
        assert principal is not None
        return principal

    return {
        "create key, 1 thread (tx/s)": _rate(writes, write),
        f"create key, {THREADS} threads (tx/s)": _rate(writes, write, THREADS),
        "authenticate key, 1 thread (/s)": _rate(reads, read),
        f"authenticate key, {THREADS} threads (/s)": _rate(reads, read, THREADS),
    }


def run(workdir: Path, quick: bool) -> list[str]:
    """Markdown lines: each operation's rate on both catalogs."""
    reason = unavailable_reason()
    if reason:
        return [f"skipped: {reason}"]
    writes, reads = (300, 2000) if quick else (2000, 20000)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    sqlite = Catalog.in_dir(workdir)
    embedded = _measure(sqlite, writes, reads)
    sqlite.close()
    with throwaway_server() as url:
        postgres = PostgresCatalog(url)
        scale = _measure(postgres, writes, reads)
        postgres.close()
    lines = [
        f"{writes} key creations and {reads} authentications per row, in one process.",
        "",
        "| operation | SQLite (embedded) | PostgreSQL 15 (scale-out, fsync off, Unix socket) |",
        "|---|---|---|",
    ]
    for name, value in embedded.items():
        lines.append(f"| {name} | {value:,.0f} | {scale[name]:,.0f} |")
    return lines
