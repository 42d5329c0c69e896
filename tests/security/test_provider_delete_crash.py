"""End to end: the real server is SIGKILLed at random instants inside `DELETE /api/v1/providers/{id}`.

Each round deletes a provider holding a few thousand rows (two currencies, three days, a superseded version
and a Contract Commitment row) and kills the server after a random delay: either uniform over the time a
deletion takes, or a random moment up to 2 ms after the warehouse's or the catalog's files start to change
(that database's transaction committing), which is where the two databases can disagree. Before each restart
the data directory is read as the crash left it; after it, the provider must be whole (its rows, exact
sums and working ingest key) or gone (404, no row in any table, key refused), and the untouched provider's
totals exact.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from focusbase.config import Settings
from focusbase.storage import Warehouse, open_catalog
from focusbase.storage import providers as provider_store
from focusbase.storage.catalog import CATALOG_FILE, DEFAULT_WORKSPACE_ID
from focusbase.storage.warehouse import WAREHOUSE_FILE
from tests.ingest.conftest import envelope
from tests.ingest.server import Server, admin_key

pytestmark = [
    pytest.mark.embedded_only("SIGKILLs a server process inside the DuckDB deletion"),
    pytest.mark.e2e,
    pytest.mark.slow,
]

KILLS = 24
# uniform: a random delay up to the time a whole deletion takes; warehouse / catalog: a random moment up to a
# few milliseconds after that database's files start to change (its transaction committing).
MODES = ("uniform", "warehouse", "catalog")
ROWS = 2000
DAYS = ("2026-06-01", "2026-06-02", "2026-06-03")
CURRENCIES = ("USD", "EUR")
COMMITMENT = {
    "ContractId": "contract-1",
    "ContractCommitmentId": "c1",
    "ContractCommitmentCategory": "Spend",
    "ContractCommitmentType": "Monthly spend",
    "ContractCommitmentCost": Decimal("1000.000000000001"),
    "ContractCommitmentPeriodStart": "2026-01-01",
    "ContractCommitmentPeriodEnd": "2027-01-01",
    "ContractPeriodStart": "2026-01-01",
    "ContractPeriodEnd": "2027-01-01",
}


def make_rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    return [
        {
            "ChargePeriodStart": rng.choice(DAYS),
            "BilledCost": Decimal(f"{rng.randint(0, 10**6)}.{rng.randint(0, 10**12 - 1):012d}"),
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


@dataclass
class Pushed:
    """A provider created through the API, with the rows that are live for it."""

    id: str
    key: str
    live: list[dict[str, Any]]
    gone: bool = False

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}

    def push(self, http: httpx.Client, body: bytes) -> httpx.Response:
        return http.post(f"/api/v1/public/ingest/focus/{self.id}", content=body, headers=self.headers)


@dataclass
class OnDisk:
    """One provider as the data directory holds it while no server runs."""

    tombstoned: bool
    catalog_deleted: bool
    rows: dict[str, int]  # every version, per table
    live_rows: int
    live_sums: dict[str, Decimal]
    live_commitments: int


def on_disk(data_dir: Path, provider_ids: list[str]) -> dict[str, OnDisk]:
    """Read both databases as the crash left them (opening the warehouse replays its write-ahead log)."""
    catalog = open_catalog(Settings(data_dir=data_dir))
    warehouse = Warehouse.in_dir(data_dir)
    found = {}
    try:
        with warehouse.cursor() as cur:
            for pid in provider_ids:
                row = provider_store.get_provider(catalog, DEFAULT_WORKSPACE_ID, pid, include_deleted=True)
                assert row is not None
                rows = {
                    table: cur.execute(
                        f"SELECT count(*) FROM {table} WHERE provider_id = ?", [pid]
                    ).fetchall()[0][0]
                    for table in ("cost_rows", "contract_commitment_rows")
                }
                live = cur.execute(
                    'SELECT "BillingCurrency", count(*), sum("BilledCost") FROM live_cost_rows'
                    " WHERE provider_id = ? GROUP BY 1",
                    [pid],
                ).fetchall()
                commitments = cur.execute(
                    "SELECT count(*) FROM live_contract_commitment_rows WHERE provider_id = ?", [pid]
                ).fetchall()[0][0]
                found[pid] = OnDisk(
                    tombstoned=provider_store.is_deleted(cur, DEFAULT_WORKSPACE_ID, pid),
                    catalog_deleted=row["deleted_at"] is not None,
                    rows=rows,
                    live_rows=sum(int(n) for _, n, _ in live),
                    live_sums={currency: Decimal(total) for currency, _, total in live},
                    live_commitments=int(commitments),
                )
    finally:
        warehouse.close()
        catalog.close()
    return found


@dataclass
class Tally:
    """Where the kills landed, as read from the data directory before each restart."""

    states: Counter[str] = field(default_factory=Counter)
    modes: Counter[str] = field(default_factory=Counter)
    answered: int = 0


def test_sigkill_inside_provider_deletion_leaves_it_whole_or_gone(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    admin = {"Authorization": f"Bearer {admin_key(data_dir)}"}
    server = Server(data_dir, tmp_path / "server.log")
    server.start()
    rng = random.Random(13)
    tally = Tally()
    try:
        with httpx.Client(base_url=server.url, headers=admin, timeout=60) as http:
            rounds(server, http, data_dir, rng, tally)
    finally:
        server.stop()
    print(
        f"{sum(tally.states.values())} kills by {dict(tally.modes)}: {dict(tally.states)};"
        f" {tally.answered} after the response"
    )
    assert sum(tally.states.values()) >= 20


def create(http: httpx.Client, rng: random.Random, name: str, versions: int) -> Pushed:
    created = http.post("/api/v1/providers", json={"name": name, "defaultCurrency": "USD"})
    assert created.status_code == 201, created.text
    provider = Pushed(created.json()["id"], created.json()["ingestKey"], [])
    for _ in range(versions):  # the second version supersedes the first (same days)
        provider.live = make_rows(rng, ROWS)
        assert provider.push(http, envelope(provider.live)).status_code == 200
    commitment = provider.push(http, envelope([COMMITMENT], dataset="ContractCommitment"))
    assert commitment.status_code == 200, commitment.text
    return provider


def rounds(server: Server, http: httpx.Client, data_dir: Path, rng: random.Random, tally: Tally) -> None:
    kept = create(http, rng, "Kept", 1)
    providers = [kept]
    # One deletion runs to the end: how long one takes, for the uniform delays.
    calibration = create(http, rng, "Calibration", 2)
    providers.append(calibration)
    started = time.monotonic()
    deleted = http.delete(f"/api/v1/providers/{calibration.id}", params={"confirm": "true"})
    duration = time.monotonic() - started
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["rowsDeleted"] == 2 * ROWS + 1
    calibration.gone = True

    doomed: Pushed | None = None
    for kill in range(KILLS):
        if doomed is None:
            doomed = create(http, rng, f"Doomed {kill}", 2)
            providers.append(doomed)
        mode = MODES[kill % len(MODES)]
        tally.modes[mode] += 1
        answered = kill_during_delete(server, http, data_dir, doomed, mode, duration, rng)
        tally.answered += answered

        disk = on_disk(data_dir, [p.id for p in providers])
        state = check_disk(disk, providers, kept, doomed, answered)
        tally.states[state] += 1

        server.start()
        check_served(http, kept, providers)
        if state == "before the warehouse commit":
            check_whole(http, doomed)
        else:
            doomed.gone = True
            check_gone(http, doomed)
            doomed = None

    server.stop()
    final = on_disk(data_dir, [p.id for p in providers])
    for provider in providers:
        if provider.gone:
            assert final[provider.id].tombstoned and final[provider.id].catalog_deleted
            assert final[provider.id].rows == {"cost_rows": 0, "contract_commitment_rows": 0}
    assert final[kept.id].live_sums == sums(kept.live)
    server.start()


def kill_during_delete(
    server: Server,
    http: httpx.Client,
    data_dir: Path,
    doomed: Pushed,
    mode: str,
    duration: float,
    rng: random.Random,
) -> bool:
    """Send the DELETE, SIGKILL the server at a random instant; True when the response came first."""
    if mode == "warehouse":
        watched = [data_dir / WAREHOUSE_FILE, data_dir / (WAREHOUSE_FILE + ".wal")]
    else:
        watched = [data_dir / CATALOG_FILE, data_dir / (CATALOG_FILE + "-wal")]
    before = [_stamp(path) for path in watched]
    answer: list[int] = []

    def send() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server dies under this request
            response = httpx.delete(
                f"{server.url}/api/v1/providers/{doomed.id}",
                params={"confirm": "true"},
                headers=dict(http.headers),
                timeout=60,
            )
            answer.append(response.status_code)

    sender = threading.Thread(target=send)
    sender.start()
    if mode == "uniform":
        time.sleep(rng.uniform(0, duration))
    else:
        deadline = time.monotonic() + 10
        while [_stamp(path) for path in watched] == before and time.monotonic() < deadline and not answer:
            time.sleep(0.0002)
        time.sleep(rng.uniform(0, 0.002))
    server.kill()
    sender.join()
    assert answer in ([], [200]), answer
    return bool(answer)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return (-1, -1)
    return (stat.st_size, stat.st_mtime_ns)


def check_disk(
    disk: dict[str, OnDisk], providers: list[Pushed], kept: Pushed, doomed: Pushed, answered: bool
) -> str:
    """The crash state of the doomed provider; every other provider must be exactly as before."""
    for provider in providers:
        state = disk[provider.id]
        if provider.gone:
            assert state.tombstoned and state.catalog_deleted
            assert state.rows == {"cost_rows": 0, "contract_commitment_rows": 0}
        elif provider is not doomed:
            assert not state.tombstoned and not state.catalog_deleted
    assert (disk[kept.id].live_rows, disk[kept.id].live_sums) == (len(kept.live), sums(kept.live))
    state = disk[doomed.id]
    # The catalog never records a deletion the warehouse has not committed.
    assert state.tombstoned or not state.catalog_deleted
    if not state.tombstoned:
        assert not answered
        assert (state.live_rows, state.live_sums) == (len(doomed.live), sums(doomed.live))
        assert state.live_commitments == 1 and state.rows["cost_rows"] >= 2 * len(doomed.live)
        return "before the warehouse commit"
    assert state.rows == {"cost_rows": 0, "contract_commitment_rows": 0}
    if not state.catalog_deleted:
        assert not answered
        return "between the warehouse and catalog commits"
    return "after both commits"


def check_served(http: httpx.Client, kept: Pushed, providers: list[Pushed]) -> None:
    got = http.get(f"/api/v1/providers/{kept.id}")
    assert got.status_code == 200 and got.json()["rowCount"] == len(kept.live)
    for provider in providers:
        if provider.gone:
            assert http.get(f"/api/v1/providers/{provider.id}").status_code == 404


def check_whole(http: httpx.Client, doomed: Pushed) -> None:
    got = http.get(f"/api/v1/providers/{doomed.id}")
    assert got.status_code == 200 and got.json()["rowCount"] == len(doomed.live)
    # Its key still pushes; pushing the same rows again replaces exactly what was there, to the last digit.
    again = doomed.push(http, envelope(doomed.live))
    assert again.status_code == 200, again.text
    replaced = again.json()["replaced"]
    assert replaced["rows"] == len(doomed.live)
    assert {c: Decimal(s["BilledCost"]) for c, s in replaced["sums"].items()} == sums(doomed.live)


def check_gone(http: httpx.Client, doomed: Pushed) -> None:
    assert http.get(f"/api/v1/providers/{doomed.id}").status_code == 404
    assert doomed.push(http, envelope(doomed.live)).status_code == 401
    assert http.delete(f"/api/v1/providers/{doomed.id}", params={"confirm": "true"}).status_code == 404
