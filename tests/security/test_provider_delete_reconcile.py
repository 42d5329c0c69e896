"""Provider deletion, one crash state at a time: each state a crash can leave is built through the storage
functions, then the server is started on the data directory and must show the provider whole or gone.

A deletion writes the warehouse first (rows deleted, open batches failed, a tombstone) in one transaction,
then the catalog (provider deleted, ingest key revoked). The end-to-end test with real SIGKILLs is
test_provider_delete_crash.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.ingest import stager
from focusbase.storage import Catalog, Warehouse
from focusbase.storage import batches as batch_store
from focusbase.storage import providers as provider_store
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, utcnow
from focusbase.storage.ingest_store import DuckDBIngestStore
from focusbase.tenancy.keys import create_key
from focusbase.tenancy.providers import FinishedDeletions, finish_deletions
from tests.ingest.conftest import commitment, envelope

pytestmark = pytest.mark.embedded_only("crash points of a deletion made with the DuckDB functions")

WS = DEFAULT_WORKSPACE_ID
DAYS = ("2026-06-01", "2026-06-02", "2026-06-03")


class Crash(Exception):
    """Stands for the process dying before the warehouse transaction commits."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-key",
        rate_limit_ingest_per_minute=100_000,
        rate_limit_read_per_minute=100_000,
    )


@contextmanager
def server(settings: Settings) -> Iterator[TestClient]:
    """The app on the data directory; entering runs every start-up hook, leaving closes both databases."""
    with TestClient(create_app(settings)) as client:
        yield client


def runtime_stores(client: TestClient) -> tuple[Catalog, Warehouse]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime.catalog, runtime.warehouse


def cost_row(day: str, cost: str, currency: str, resource: str) -> dict[str, Any]:
    return {
        "ChargePeriodStart": day,
        "BilledCost": Decimal(cost),
        "BillingCurrency": currency,
        "ServiceName": "Compute",
        "ChargeCategory": "Usage",
        "ResourceId": resource,
    }


class Seeded:
    """A provider with rows of both datasets and a superseded version, pushed through the API."""

    def __init__(self, client: TestClient, admin: dict[str, str], name: str, salt: int) -> None:
        created = client.post(
            "/api/v1/providers", json={"name": name, "defaultCurrency": "USD"}, headers=admin
        )
        assert created.status_code == 201, created.text
        self.id: str = created.json()["id"]
        self.key: str = created.json()["ingestKey"]
        self.headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        slots = [(day, currency) for day in DAYS for currency in ("USD", "EUR")]
        first = [cost_row(d, f"{salt}{i}.{i:03d}000000001", c, f"r-{i}") for i, (d, c) in enumerate(slots)]
        # The same days again: the first push becomes a superseded version, kept for revert.
        self.live = [cost_row(d, f"{salt}{i}.{i:03d}000000007", c, "x") for i, (d, c) in enumerate(slots)]
        for rows in (first, self.live):
            assert self.push(client, rows).status_code == 200
        pushed = client.post(
            f"/api/v1/public/ingest/focus/{self.id}",
            content=envelope([commitment("c1", f"{salt}.5")], dataset="ContractCommitment"),
            headers=self.headers,
        )
        assert pushed.status_code == 200, pushed.text

    def stage(self, client: TestClient) -> str:
        """Open a multi-part batch and send it one part (staged, not live); returns the batch id."""
        opened = client.post(f"/api/v1/providers/{self.id}/batches", json={}, headers=self.headers)
        batch_id: str = opened.json()["batchId"]
        part = client.post(
            f"/api/v1/batches/{batch_id}/parts", content=envelope(self.live), headers=self.headers
        )
        assert part.status_code == 200, part.text
        stager.wait_until_staged(batch_id)  # an answered part is written by the stager thread
        return batch_id

    def push(self, client: TestClient, rows: list[dict[str, Any]]) -> Any:
        return client.post(
            f"/api/v1/public/ingest/focus/{self.id}", content=envelope(rows), headers=self.headers
        )

    def sums(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for row in self.live:
            totals[row["BillingCurrency"]] += row["BilledCost"]
        return dict(totals)


def live_sums(warehouse: Warehouse, provider_id: str) -> dict[str, Decimal]:
    with warehouse.cursor() as cur:
        rows = cur.execute(
            'SELECT "BillingCurrency", sum("BilledCost") FROM live_cost_rows WHERE provider_id = ?'
            " GROUP BY 1",
            [provider_id],
        ).fetchall()
    return {currency: Decimal(total) for currency, total in rows}


def all_rows(warehouse: Warehouse, provider_id: str) -> dict[str, int]:
    """Every stored row of the provider: live, superseded and staged, per table."""
    with warehouse.cursor() as cur:
        return {
            table: cur.execute(
                f"SELECT count(*) FROM {table} WHERE provider_id = ?", [provider_id]
            ).fetchall()[0][0]
            for table in ("cost_rows", "contract_commitment_rows")
        }


def batch_of(client: TestClient, headers: dict[str, str], batch_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/batches/{batch_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def seed(settings: Settings) -> tuple[dict[str, str], Seeded, Seeded]:
    """An admin key, the provider to delete and an untouched one, through the API."""
    with server(settings) as client:
        catalog, _ = runtime_stores(client)
        admin = {
            "Authorization": f"Bearer {create_key(catalog, workspace_id=WS, name='a', scopes=['admin']).key}"
        }
        doomed = Seeded(client, admin, "Doomed", 1)
        kept = Seeded(client, admin, "Kept", 2)
    return admin, doomed, kept


def assert_whole(client: TestClient, admin: dict[str, str], provider: Seeded) -> None:
    _, warehouse = runtime_stores(client)
    got = client.get(f"/api/v1/providers/{provider.id}", headers=admin)
    assert got.status_code == 200
    assert got.json()["rowCount"] == len(provider.live)
    assert live_sums(warehouse, provider.id) == provider.sums()
    assert all_rows(warehouse, provider.id) == {
        "cost_rows": 2 * len(provider.live),
        "contract_commitment_rows": 1,
    }


def assert_gone(client: TestClient, admin: dict[str, str], provider: Seeded) -> None:
    _, warehouse = runtime_stores(client)
    assert client.get(f"/api/v1/providers/{provider.id}", headers=admin).status_code == 404
    assert provider.push(client, provider.live).status_code == 401
    assert all_rows(warehouse, provider.id) == {"cost_rows": 0, "contract_commitment_rows": 0}
    with warehouse.cursor() as cur:
        open_batches = cur.execute(
            "SELECT count(*) FROM batches WHERE provider_id = ? AND status IN ('received', 'validating')",
            [provider.id],
        ).fetchall()[0][0]
    assert open_batches == 0


def test_crash_before_the_warehouse_commit_leaves_the_provider_whole(settings: Settings) -> None:
    admin, doomed, kept = seed(settings)
    with server(settings) as client:
        _, warehouse = runtime_stores(client)
        staged = doomed.stage(client)
        with pytest.raises(Crash), warehouse.transaction() as cur:
            provider_store.tombstone_in(cur, WS, doomed.id)
            raise Crash
    with server(settings) as client:
        catalog, warehouse = runtime_stores(client)
        assert provider_store.unfinished_deletions(warehouse, catalog) == []
        assert_whole(client, admin, doomed)
        assert_whole(client, admin, kept)
        # Its open batch was interrupted by the restart, not by a deletion; the key still pushes.
        assert batch_of(client, admin, staged)["failureReason"] == "interrupted by a server restart"
        assert doomed.push(client, doomed.live).status_code == 200
        assert live_sums(warehouse, doomed.id) == doomed.sums()


def test_crash_between_the_commits_is_finished_on_start(settings: Settings) -> None:
    admin, doomed, kept = seed(settings)
    with server(settings) as client:
        catalog, warehouse = runtime_stores(client)
        staged_before = doomed.stage(client)
        tombstone = provider_store.tombstone_provider(warehouse, WS, doomed.id)
        # Every version and the staged part went; the open batch failed with the deletion.
        stored = (2 * len(doomed.live) + len(doomed.live), 1)
        assert (tombstone.cost_rows, tombstone.contract_commitment_rows) == stored
        assert batch_of(client, admin, staged_before)["failureReason"] == "provider deleted"
        # Until the catalog step, the key still authenticates, but nothing it sends can be stored.
        refused = doomed.push(client, doomed.live)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "provider_deleted"
        failed = batch_of(client, admin, orjson.loads(refused.json()["details"])["batchId"])
        assert (failed["status"], failed["failureReason"]) == ("failed", "provider deleted")
        # A multi-part batch opened now stages its part, then fails at its commit and drops it.
        batch = doomed.stage(client)
        committed = client.post(f"/api/v1/batches/{batch}/commit", headers=doomed.headers)
        assert committed.status_code == 409 and committed.json()["code"] == "provider_deleted"
        assert batch_of(client, admin, batch)["failureReason"] == "provider deleted"
        # One more is left open with a staged part when the process dies.
        left_open = doomed.stage(client)
        assert all_rows(warehouse, doomed.id) == {
            "cost_rows": len(doomed.live),
            "contract_commitment_rows": 0,
        }
        assert [t.provider_id for t in provider_store.unfinished_deletions(warehouse, catalog)] == [doomed.id]
    with server(settings) as client:
        catalog, warehouse = runtime_stores(client)
        assert_gone(client, admin, doomed)
        assert_whole(client, admin, kept)
        assert provider_store.unfinished_deletions(warehouse, catalog) == []
        row = provider_store.get_provider(catalog, WS, doomed.id, include_deleted=True)
        assert row is not None and row["deleted_at"] == tombstone.deleted_at
        assert batch_of(client, admin, left_open)["failureReason"] == "provider deleted"


def test_delete_repeated_after_the_warehouse_step_completes_it(settings: Settings) -> None:
    admin, doomed, kept = seed(settings)
    with server(settings) as client:
        _, warehouse = runtime_stores(client)
        tombstone = provider_store.tombstone_provider(warehouse, WS, doomed.id)
        # The rows are gone already, so no confirmation is asked; the answer counts what the deletion removed.
        again = client.delete(f"/api/v1/providers/{doomed.id}", headers=admin)
        assert again.status_code == 200, again.text
        assert again.json() == {
            "id": doomed.id,
            "deletedAt": tombstone.deleted_at,
            "rowsDeleted": 2 * len(doomed.live) + 1,
            "costRowsDeleted": 2 * len(doomed.live),
            "contractCommitmentRowsDeleted": 1,
        }
        assert_gone(client, admin, doomed)
        assert_whole(client, admin, kept)


def test_a_finished_deletion_is_left_alone(settings: Settings) -> None:
    admin, doomed, kept = seed(settings)
    with server(settings) as client:
        staged = doomed.stage(client)
        deleted = client.delete(f"/api/v1/providers/{doomed.id}", params={"confirm": "true"}, headers=admin)
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["rowsDeleted"] == 3 * len(doomed.live) + 1
        assert batch_of(client, admin, staged)["failureReason"] == "provider deleted"
        catalog, warehouse = runtime_stores(client)
        finished = finish_deletions(catalog, DuckDBIngestStore(warehouse))
        assert finished == FinishedDeletions([], 0, [], 0)
    with server(settings) as client:
        assert_gone(client, admin, doomed)
        assert_whole(client, admin, kept)
        assert client.delete(f"/api/v1/providers/{doomed.id}", headers=admin).status_code == 404


def test_rows_left_by_a_deletion_without_tombstone_are_deleted_on_start(settings: Settings) -> None:
    # The state the catalog-first deletion of earlier versions left after a crash: deleted, rows still there.
    admin, doomed, kept = seed(settings)
    with server(settings) as client:
        catalog, warehouse = runtime_stores(client)
        staged = doomed.stage(client)
        deleted_at = utcnow()
        assert provider_store.mark_deleted(catalog, WS, doomed.id, deleted_at)
        assert all_rows(warehouse, doomed.id)["cost_rows"] == 3 * len(doomed.live)
    with server(settings) as client:
        catalog, warehouse = runtime_stores(client)
        assert_gone(client, admin, doomed)
        assert_whole(client, admin, kept)
        assert batch_of(client, admin, staged)["failureReason"] == "provider deleted"
        with warehouse.cursor() as cur:
            tombstones = cur.execute(
                "SELECT provider_id, cost_rows, contract_commitment_rows, deleted_at FROM deleted_providers"
            ).fetchall()
        assert [t[:3] for t in tombstones] == [(doomed.id, 3 * len(doomed.live), 1)]
        assert tombstones[0][3].strftime("%Y-%m-%dT%H:%M:%S.%fZ") == deleted_at
        finished = finish_deletions(catalog, DuckDBIngestStore(warehouse))
        assert (finished.interrupted, finished.untombstoned) == ([], [])


def test_staged_rows_written_after_the_deletion_are_deleted_on_start(settings: Settings) -> None:
    # A file import's statement commits its staged rows outside the writer lock, so it can land after the
    # deletion; the crash then comes before the import drops them (its batch is already failed).
    admin, doomed, kept = seed(settings)
    with server(settings) as client:
        catalog, warehouse = runtime_stores(client)
        tombstone = provider_store.tombstone_provider(warehouse, WS, doomed.id)
        late = doomed.stage(client)
        with warehouse.transaction() as cur:
            batch_store.update(cur, late, {"status": "failed", "failure_reason": "provider deleted"})
        assert provider_store.mark_deleted(catalog, WS, doomed.id, tombstone.deleted_at)
        assert all_rows(warehouse, doomed.id) == {
            "cost_rows": len(doomed.live),
            "contract_commitment_rows": 0,
        }
    with server(settings) as client:
        assert_gone(client, admin, doomed)
        assert_whole(client, admin, kept)
        catalog, warehouse = runtime_stores(client)
        assert finish_deletions(catalog, DuckDBIngestStore(warehouse)).leftover_rows == 0
