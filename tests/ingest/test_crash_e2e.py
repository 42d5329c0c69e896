"""End to end: the real server is SIGKILLed mid-batch (during parts and during a commit) and restarted.

Stored rows and exact BilledCost sums per currency must be exactly those of the committed batches, and the
interrupted batch must be `failed` with a reason.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import defaultdict
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import httpx
import pytest

from focusbase.storage import Warehouse
from tests.ingest.conftest import envelope
from tests.ingest.server import Server, admin_key

pytestmark = [
    pytest.mark.embedded_only(
        "SIGKILLs a server process of its own (test_scale_replicas.py does on ClickHouse)"
    ),
    pytest.mark.e2e,
    pytest.mark.slow,
]
CURRENCIES = ("USD", "EUR")


def make_rows(rng: random.Random, n: int, days: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "ChargePeriodStart": rng.choice(days),
            "BilledCost": Decimal(f"{rng.randint(0, 10**9)}.{rng.randint(0, 10**12 - 1):012d}"),
            "BillingCurrency": rng.choice(CURRENCIES),
            "ServiceName": "Compute",
            "ChargeCategory": "Usage",
            "ResourceId": f"r-{i}",
        }
        for i in range(n)
    ]


def sums(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row["BillingCurrency"]] += row["BilledCost"]
    return dict(totals)


def stored(data_dir: Path) -> tuple[int, dict[str, Decimal], int]:
    """Live rows, live sums per currency and staged rows, read from the warehouse file itself."""
    warehouse = Warehouse.in_dir(data_dir)
    try:
        with warehouse.cursor() as cur:
            count = cur.execute("SELECT count(*) FROM live_cost_rows").fetchall()[0][0]
            totals = dict(
                cur.execute(
                    'SELECT "BillingCurrency", sum("BilledCost") FROM live_cost_rows GROUP BY 1'
                ).fetchall()
            )
            staged = cur.execute(
                "SELECT count(*) FROM cost_rows WHERE starts_with(superseded_by, 'staged:')"
            ).fetchall()[0][0]
    finally:
        warehouse.close()
    return count, totals, staged


def test_sigkill_mid_batch_keeps_exactly_the_committed_data(tmp_path: Path) -> None:
    with localcontext(prec=60):
        run_scenario(tmp_path)


def run_scenario(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    key = admin_key(data_dir)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    server = Server(data_dir, tmp_path / "server.log")
    server.start()
    rng = random.Random(7)
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
        try:
            scenario(server, http, headers, data_dir, rng)
        finally:
            server.stop()


def scenario(
    server: Server, http: httpx.Client, headers: dict[str, str], data_dir: Path, rng: random.Random
) -> None:
    provider = http.post("/api/v1/providers", json={"name": "Crashy", "defaultCurrency": "USD"}).json()["id"]
    june = [f"2026-06-{d:02d}" for d in range(1, 11)]
    july = [f"2026-07-{d:02d}" for d in range(1, 11)]
    committed_a = make_rows(rng, 5000, june)
    committed_b = make_rows(rng, 5000, july)
    for rows in (committed_a, committed_b):
        response = http.post(f"/api/v1/public/ingest/focus/{provider}", content=envelope(rows))
        assert response.status_code == 200, response.text
    expected_rows = len(committed_a) + len(committed_b)
    with localcontext(prec=60):
        expected = {
            c: sums(committed_a).get(c, Decimal(0)) + sums(committed_b).get(c, Decimal(0)) for c in CURRENCIES
        }

    # 1. Killed while parts of a multi-part batch (replacing all of June) are being sent.
    batch = http.post(f"/api/v1/providers/{provider}/batches", json={}).json()["batchId"]
    for _ in range(3):
        part = http.post(f"/api/v1/batches/{batch}/parts", content=envelope(make_rows(rng, 20000, june)))
        assert part.status_code == 200, part.text
    big_part = envelope(make_rows(rng, 60000, june))
    sender = threading.Thread(
        target=_send_quietly, args=(server.url, f"/api/v1/batches/{batch}/parts", big_part, headers)
    )
    sender.start()
    time.sleep(0.3)
    server.kill()
    sender.join()
    assert stored(data_dir)[:2] == (expected_rows, expected)

    server.start()
    interrupted = http.get(f"/api/v1/batches/{batch}").json()
    assert interrupted["status"] == "failed"
    assert interrupted["failureReason"] == "interrupted by a server restart"
    assert http.post(f"/api/v1/batches/{batch}/commit").status_code == 409

    # 2. Killed while a large commit runs: afterwards either all of it or none of it is visible.
    batch = http.post(f"/api/v1/providers/{provider}/batches", json={}).json()["batchId"]
    replacement: list[dict[str, Any]] = []
    for _ in range(5):
        rows = make_rows(rng, 40000, june)
        replacement += rows
        assert http.post(f"/api/v1/batches/{batch}/parts", content=envelope(rows)).status_code == 200
    committer = threading.Thread(
        target=_send_quietly, args=(server.url, f"/api/v1/batches/{batch}/commit", b"", headers)
    )
    committer.start()
    time.sleep(0.15)
    server.kill()
    committer.join()
    count, totals, _ = stored(data_dir)
    with localcontext(prec=60):
        after = {
            c: sums(committed_b).get(c, Decimal(0)) + sums(replacement).get(c, Decimal(0)) for c in CURRENCIES
        }
    before_state = (expected_rows, expected)
    after_state = (len(committed_b) + len(replacement), after)
    assert (count, totals) in (before_state, after_state)

    server.start()
    outcome = http.get(f"/api/v1/batches/{batch}").json()
    if (count, totals) == before_state:
        assert outcome["status"] == "failed"
        assert outcome["failureReason"] == "interrupted by a server restart"
    else:
        assert outcome["status"] == "committed"
    server.stop()
    count_now, totals_now, staged = stored(data_dir)
    assert (count_now, totals_now) == (count, totals)
    assert staged == 0
    print("commit interrupted" if (count, totals) == before_state else "commit completed before the kill")


def _send_quietly(url: str, path: str, body: bytes, headers: dict[str, str]) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server is killed under this request
        httpx.post(url + path, content=body, headers=headers, timeout=120)
