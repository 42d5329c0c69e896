"""A writer process of its own for tests/storage/test_chdb_http.py: a ClickHouseWarehouse over HTTP.

    python -m tests.storage.gateway_writer commit WAREHOUSE_URL CATALOG_URL FIRST_SEQ STRIDE COUNT GO_FILE
    python -m tests.storage.gateway_writer stage WAREHOUSE_URL CATALOG_URL SEQ PARTS ROWS_PER_PART

`commit` prints `ready` once connected, waits for GO_FILE to exist, then stages (in two parts) and commits
COUNT batches of provider PROVIDER, numbered FIRST_SEQ, FIRST_SEQ + STRIDE, ...; `stage` stages PARTS parts
of one batch, printing `staged <n>` after each, and never commits (the test kills it part-way).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_client import open_client
from focusbase.storage.clickhouse_types import BatchRef
from focusbase.storage.cost_rows import Replace
from focusbase.storage.postgres import PostgresCatalog
from tests.storage.test_clickhouse_warehouse import WS, Row, table

PROVIDER = "prv_shared"
KINDS = ("append", "replace_days", "replace_range")


def batch_id(seq: int) -> str:
    return f"{PROVIDER}_bat{seq}"


def batch_rows(seq: int) -> list[Row]:
    """The rows of batch `seq`: days 1 to 6 of January 2026, exact decimals, two currencies."""
    return [
        Row(
            datetime(2026, 1, 1 + (seq + i) % 6, (seq * 7 + i) % 24, tzinfo=UTC),
            Decimal(seq * 1000 + i) / 1000,
            "EUR" if i % 3 == 0 else "USD",
        )
        for i in range(4 + seq % 3)
    ]


def batch_replace(seq: int) -> Replace:
    kind = KINDS[seq % len(KINDS)]
    if kind == "replace_range":
        start = datetime(2026, 1, 1 + seq % 6, 12, tzinfo=UTC)
        return Replace(kind, start, start + timedelta(hours=30))
    return Replace(kind)  # type: ignore[arg-type]


def main(argv: list[str]) -> None:
    mode, warehouse_url, catalog_url, *numbers = argv
    catalog = PostgresCatalog(catalog_url, pool_size=2)
    warehouse = ClickHouseWarehouse(open_client(warehouse_url), catalog)
    try:
        if mode == "commit":
            first, stride, count = (int(n) for n in numbers[:3])
            print("ready", flush=True)
            go = Path(numbers[3])
            while not go.exists():
                time.sleep(0.01)
            for seq in range(first, first + stride * count, stride):
                ref = BatchRef(WS, PROVIDER, batch_id(seq), seq)
                rows = batch_rows(seq)
                warehouse.stage(ref, 0, 0, table(rows[:2]))
                warehouse.stage(ref, 1, 2, table(rows[2:]))
                warehouse.commit(ref, batch_replace(seq))
        elif mode == "stage":
            seq, parts, size = (int(n) for n in numbers)
            ref = BatchRef(WS, PROVIDER, batch_id(seq), seq)
            for part in range(parts):
                rows = [Row(datetime(2026, 1, 1 + i % 28, tzinfo=UTC), Decimal(1)) for i in range(size)]
                warehouse.stage(ref, part, part * size, table(rows))
                print(f"staged {part + 1}", flush=True)
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    finally:
        warehouse.close()
        catalog.close()


if __name__ == "__main__":
    main(sys.argv[1:])
