"""`focusbase push FILE --provider ID` against a real server: CSV, Parquet and JSON files, exact sums."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.ingest.server import Server, admin_key

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    root = tmp_path_factory.mktemp("push-cli")
    data_dir = root / "data"
    data_dir.mkdir()
    key = admin_key(data_dir)
    server = Server(data_dir, root / "server.log")
    server.start()
    try:
        yield server, key
    finally:
        server.stop()


def new_provider(server: Server, key: str, name: str) -> dict[str, Any]:
    response = httpx.post(
        server.url + "/api/v1/providers",
        json={"name": name, "defaultCurrency": "EUR"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "focusbase", "push", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


ROWS = [
    ("2026-06-01", "12.50", "USD", "Compute"),
    ("2026-06-01", "0.000000000001", "USD", "Storage"),
    ("2026-06-02", "-3.10", "EUR", "Compute"),
    ("2026-06-03", "123456789012345.123456789012", "EUR", "Network"),
    ("2026-06-03", "0.1", "", "Support"),
]


def expected_with_default() -> dict[str, Decimal]:
    """Sums per currency of ROWS; the row without a currency takes the provider's default, EUR."""
    totals = {"USD": Decimal(0), "EUR": Decimal(0)}
    for _, cost, currency, _ in ROWS:
        totals[currency or "EUR"] += Decimal(cost)
    assert totals == {"USD": Decimal("12.500000000001"), "EUR": Decimal("123456789012342.123456789012")}
    return totals


def write_csv(path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["ChargePeriodStart", "BilledCost", "BillingCurrency", "ServiceName", "ChargeCategory"]
        )
        for day, cost, currency, service in ROWS:
            writer.writerow([day, cost, currency, service, "Usage"])


def live_sums(server: Server, key: str, batch_id: str) -> dict[str, Any]:
    batch = httpx.get(f"{server.url}/api/v1/batches/{batch_id}", headers={"Authorization": f"Bearer {key}"})
    sums: dict[str, Any] = batch.json()["sums"]
    return sums


@pytest.mark.parametrize("kind", ["csv", "parquet", "json"])
def test_push_file(server: tuple[Server, str], tmp_path: Path, kind: str) -> None:
    srv, admin = server
    provider = new_provider(srv, admin, f"CLI {kind}")
    path = tmp_path / f"costs.{kind}"
    if kind == "csv":
        write_csv(path)
    elif kind == "parquet":
        table = pa.table(
            {
                "ChargePeriodStart": pa.array([r[0] for r in ROWS]).cast(pa.date32()),
                "BilledCost": pa.array([Decimal(r[1]) for r in ROWS], type=pa.decimal128(38, 12)),
                "BillingCurrency": [r[2] or None for r in ROWS],
                "ServiceName": [r[3] for r in ROWS],
                "ChargeCategory": ["Usage"] * len(ROWS),
            }
        )
        pq.write_table(table, path)
    else:
        rows = [
            {"ChargePeriodStart": d, "BilledCost": c, "ServiceName": s, "ChargeCategory": "Usage"}
            | ({"BillingCurrency": cur} if cur else {})
            for d, c, cur, s in ROWS
        ]
        path.write_text(json.dumps({"format": "stackspend.focus", "version": "1", "rows": rows}))
    # The provider's own ingest key, parts of 2 rows: three parts.
    result = cli(
        str(path),
        "--provider",
        provider["id"],
        "--server",
        srv.url,
        "--key",
        provider["ingestKey"],
        "--part-rows",
        "2",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "committed" in result.stdout
    assert "line items created" in result.stdout
    batch_id = result.stdout.split("batch ", 1)[1].split()[0]
    sums = live_sums(srv, admin, batch_id)
    assert {c: Decimal(v["BilledCost"]) for c, v in sums.items()} == expected_with_default()
    batch = httpx.get(
        f"{srv.url}/api/v1/batches/{batch_id}", headers={"Authorization": f"Bearer {admin}"}
    ).json()
    assert (batch["source"], batch["rowsReceived"], batch["lineItemsCreated"]) == ("multipart", 5, 5)


def test_push_reports_row_errors(server: tuple[Server, str], tmp_path: Path) -> None:
    srv, admin = server
    provider = new_provider(srv, admin, "CLI errors")
    path = tmp_path / "bad.csv"
    path.write_text(
        "ChargePeriodStart,BilledCost,ServiceName,ChargeCategory\n2026-06-01,1,A,Usage\n2026-06-01,1$,A,Usage\n"
    )
    result = cli(str(path), "--provider", provider["id"], "--server", srv.url, "--key", admin)
    assert result.returncode == 1
    assert "validation_failed" in result.stderr
    assert "BilledCost" in result.stderr
    missing_key = cli(str(path), "--provider", provider["id"], "--server", srv.url)
    assert missing_key.returncode == 2
