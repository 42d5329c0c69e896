"""`focusbase migrate-storage` copies a real data directory into PostgreSQL and ClickHouse (chDB), exactly.

The source is built through the API: several providers, two currencies, a FOCUS sample file imported, a
replaced and a reverted batch, Contract Commitment batches (one of them replaced), a deleted provider, and
FX rates in two workspaces (replaced once in the first).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from focusbase.cli import _register, app
from focusbase.focus import Dataset
from focusbase.storage import Warehouse, migrations
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import authenticate_key, create_key
from focusbase.tenancy.workspaces import ensure_workspace
from tests.ingest.conftest import Provider, commitment, envelope, row
from tests.storage.sources import api_source

psycopg = pytest.importorskip("psycopg")
clickhouse_connect = pytest.importorskip("clickhouse_connect")
pytest.importorskip("chdb")

from focusbase.storage.clickhouse import ClickHouseWarehouse  # noqa: E402
from focusbase.storage.clickhouse_client import open_client  # noqa: E402
from focusbase.storage.fx_copy import listing  # noqa: E402
from focusbase.storage.fx_rates import DuckDBFxRates  # noqa: E402
from focusbase.storage.postgres import PostgresCatalog  # noqa: E402
from focusbase.storage.warehouse_copy import (  # noqa: E402
    SourceBatch,
    copy_warehouse,
    source_tombstones,
    source_totals,
    target_tombstones,
    target_totals,
)

CC = Dataset.CONTRACT_COMMITMENT

runner = CliRunner()


@pytest.fixture(autouse=True)
def _commands() -> None:
    _register()


class Built:
    """The built data directory and what the test needs to know about it."""

    def __init__(
        self, data_dir: Path, admin_key: str, batches: dict[str, str], acme: str, gone: str, finance: str
    ) -> None:
        self.data_dir = data_dir
        self.admin_key = admin_key
        self.batches = batches
        self.acme = acme
        self.gone = gone
        self.finance = finance  # a second workspace, with rates of its own


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    data_dir = tmp_path_factory.mktemp("source") / "data"
    with api_source(data_dir) as source:
        client, admin, headers, push = source.client, source.admin, source.headers, source.push
        acme = source.provider("Acme Cloud", "USD")
        euro = source.provider("Euro Cloud", "EUR")
        aws = source.provider("AWS", "USD")
        batches: dict[str, str] = {}

        cost = Decimal("12345678901234.123456789012")
        batches["first"] = push(
            acme,
            [row("2026-06-01", "10.5", ListCost=Decimal("11")), row("2026-06-02", "20", ContractedCost=cost)],
        )
        batches["replacing"] = push(acme, [row("2026-06-01", "0.000000000001")])
        batches["reverted"] = push(acme, [row("2026-06-02", "99")])
        reverted = client.post(f"/api/v1/batches/{batches['reverted']}/revert", headers=headers)
        assert reverted.status_code == 200, reverted.text
        batches["euro"] = push(
            euro,
            [
                row(f"2026-06-{d:02d}", f"{d}.25", BillingCurrency="EUR", EffectiveCost=Decimal("-1.5"))
                for d in (1, 2, 3)
            ],
        )
        batches["append"] = push(acme, [row("2026-06-02", "1")], mode="append")
        batches["import"] = source.import_sample(aws)

        commit = source.commitments
        batches["cc_replaced"] = commit(acme, [commitment("c0", "500")], "replace_all")
        batches["cc_first"] = commit(acme, [commitment("c1", "1000")], "replace_all")
        batches["cc_more"] = commit(
            acme,
            [
                commitment("c2", "12345678901234.123456789012"),
                commitment("c3", "0.000000000001"),
                commitment("c4", "2.5", BillingCurrency="EUR"),
            ],
            "append",
        )
        # A deleted provider: its rows are gone from the source, its tombstone stays.
        gone = Provider(client, headers, "Gone Cloud", "USD")
        batches["gone"] = push(gone, [row("2026-06-01", "7")])
        batches["gone_cc"] = commit(gone, [commitment("g1", "70")], "replace_all")
        deleted = client.delete(f"/api/v1/providers/{gone.id}", params={"confirm": "true"}, headers=headers)
        assert deleted.status_code == 200, deleted.text
        view = client.post(
            "/api/v1/views",
            json={"name": "by service", "query": {"groupBy": ["ServiceName"]}},
            headers=headers,
        )
        assert view.status_code in (200, 201), view.text
        finance = ensure_workspace(source.catalog, "finance").id
        finance_admin = create_key(source.catalog, workspace_id=finance, name="finance", scopes=["admin"]).key
        # Replaced once: only the second upload is copied. Rates with every decimal, a 28-digit one, a day
        # before 1970 and after 2149 (outside ClickHouse's Date), the same pair with another rate elsewhere.
        for key, rates in (
            (admin, "2026-06-01,EUR,USD,3\n"),
            (
                admin,
                "2026-06-01,EUR,USD,1.0834567891\n2026-06-02,EUR,USD,1.1\n2026-06-01,USD,EUR,0.9230000001\n"
                "0001-01-01,GBP,USD,9999999999999999999999999999.9999999999\n9999-12-31,JPY,USD,0.0000000001\n",
            ),
            (finance_admin, "2026-06-01,EUR,USD,2\n2026-06-03,CHF,EUR,0.95\n"),
        ):
            put = client.put(
                "/api/v1/fx-rates",
                content=("date,from,to,rate\n" + rates).encode(),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
            )
            assert put.status_code == 200, put.text
    return Built(data_dir, admin, batches, acme.id, gone.id, finance)


@pytest.fixture
def source(built: Built, tmp_path: Path) -> Path:
    """A copy of the built data directory of the test's own."""
    data_dir = tmp_path / "data"
    shutil.copytree(built.data_dir, data_dir)
    return data_dir


@pytest.fixture
def warehouse_url(chdb_path: Path) -> str:
    return f"chdb://{chdb_path}?database=m_{uuid.uuid4().hex[:12]}"


def migrate(source: Path, catalog_url: str, warehouse_url: str, *args: str) -> Any:
    return runner.invoke(
        app,
        [
            "migrate-storage",
            "--data-dir",
            str(source),
            "--catalog-url",
            catalog_url,
            "--warehouse-url",
            warehouse_url,
            *args,
        ],
    )


@pytest.fixture
def targets(postgres_url: str, warehouse_url: str) -> Iterator[tuple[str, str]]:
    yield postgres_url, warehouse_url


def open_target(catalog_url: str, warehouse_url: str) -> tuple[PostgresCatalog, ClickHouseWarehouse]:
    catalog = PostgresCatalog(catalog_url, pool_size=2)
    return catalog, ClickHouseWarehouse(open_client(warehouse_url), catalog)


def test_migrate_copies_catalog_and_live_rows_exactly_and_a_rerun_adds_nothing(
    built: Built, source: Path, targets: tuple[str, str]
) -> None:
    catalog_url, warehouse_url = targets
    result = migrate(source, catalog_url, warehouse_url, "--chunk-rows", "2")
    assert result.exit_code == 0, result.output
    assert "catalog copied" in result.output
    assert "verified: the target matches the source" in result.output
    assert "7 batches copied (21 Cost and Usage and 4 Contract Commitment rows staged)" in result.output
    assert "tombstones: 1 copied, 0 already copied" in result.output
    assert "FX rates: 2 workspaces copied (7 rates), 0 already copied" in result.output
    assert "not copied" not in result.output and "stay" not in result.output

    warehouse = Warehouse.in_dir(source)
    catalog, clickhouse = open_target(catalog_url, warehouse_url)
    try:
        expected = source_totals(warehouse)
        assert target_totals(clickhouse, [DEFAULT_WORKSPACE_ID]) == expected
        # The replaced, reverted and appended history is what the server reads: exact to the last digit.
        by_currency: dict[str, Decimal] = {}
        for (_, _, currency), entry in expected.items():
            by_currency[currency] = by_currency.get(currency, Decimal(0)) + Decimal(entry["BilledCost"])
        assert by_currency["EUR"] == Decimal("6.75")
        acme = expected[(DEFAULT_WORKSPACE_ID, built.acme, "USD")]
        assert (acme["rows"], acme["BilledCost"]) == (3, "21.000000000001")
        # ContractedCost defaults to BilledCost where absent: 12345678901234.123456789012 + 1 + 1e-12.
        assert acme["ContractedCost"] == "12345678901235.123456789013"
        # Contract Commitments: the replaced batch's row stays behind, the live ones arrive to the last digit.
        commitments = source_totals(warehouse, CC)
        assert (
            target_totals(clickhouse, [DEFAULT_WORKSPACE_ID], CC)
            == commitments
            == {
                (DEFAULT_WORKSPACE_ID, built.acme, "USD"): {
                    "rows": 3,
                    # 1000 + 12345678901234.123456789012 + 0.000000000001
                    "ContractCommitmentCost": "12345678902234.123456789013",
                },
                (DEFAULT_WORKSPACE_ID, built.acme, "EUR"): {"rows": 1, "ContractCommitmentCost": "2.5"},
            }
        )
        page = clickhouse.read_page(
            DEFAULT_WORKSPACE_ID, ["ContractCommitmentId", "ContractCommitmentCost"], dataset=CC
        )
        assert [(r["ContractCommitmentId"], r["ContractCommitmentCost"]) for r in page.rows] == [
            ("c1", Decimal("1000")),
            ("c2", Decimal("12345678901234.123456789012")),
            ("c3", Decimal("0.000000000001")),
            ("c4", Decimal("2.5")),
        ]
        # Batch ids survive, Cost and Usage numbered first; the reverted and replaced batches and the
        # deleted provider's left no live row behind.
        held = clickhouse.batch_seqs()
        assert built.batches["reverted"] not in held
        cost = [built.batches[b] for b in ("first", "replacing", "euro", "append", "import")]
        assert held == {
            b: seq for seq, b in enumerate([*cost, built.batches["cc_first"], built.batches["cc_more"]], 1)
        }
        # The deleted provider's tombstone arrives with its deletion time, and nothing of it is live.
        tombstones = source_tombstones(warehouse)
        assert list(tombstones) == [(DEFAULT_WORKSPACE_ID, built.gone)]
        assert target_tombstones(clickhouse) == tombstones
        tombstone = clickhouse.tombstone(DEFAULT_WORKSPACE_ID, built.gone)
        assert (
            tombstone is not None and tombstone.deleted_at == tombstones[(DEFAULT_WORKSPACE_ID, built.gone)]
        )
        live = target_totals(clickhouse, [DEFAULT_WORKSPACE_ID]) | target_totals(clickhouse, [], CC)
        assert built.gone not in {provider for _, provider, _ in live}
        # The source's keys authenticate against the PostgreSQL catalog (hashes copied as stored).
        principal = authenticate_key(catalog, built.admin_key)
        assert principal is not None and principal.workspace_id == DEFAULT_WORKSPACE_ID
        with catalog.read() as conn:
            assert conn.execute("SELECT name FROM saved_views").fetchall()[0][0] == "by service"
            assert conn.execute("SELECT count(*) FROM providers").fetchone()[0] == 4
            # History: every batch with its status, numbered in the target as its rows are.
            history = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, status, batch_seq FROM batches")}
        with warehouse.cursor() as cur:
            statuses = dict(cur.execute("SELECT id, status FROM batches").fetchall())
        assert {b: status for b, (status, _) in history.items()} == statuses
        assert history[built.batches["reverted"]][0] == "reverted"
        assert {b: history[b][1] for b in held} == held
        assert len({seq for _, seq in history.values()}) == len(history)
        assert f"history: {len(statuses)} batches copied (0 open ones closed as failed)" in result.output
        # The rates of both workspaces, exactly as each warehouse lists them (the API's listing).
        embedded = DuckDBFxRates(warehouse)
        for workspace_id, count in ((DEFAULT_WORKSPACE_ID, 5), (built.finance, 2)):
            copied = listing(clickhouse, workspace_id)
            assert copied == listing(embedded, workspace_id) and copied[0] == count
        default_rates = listing(clickhouse, DEFAULT_WORKSPACE_ID)[1]
        first_day, *first = default_rates[0]
        assert (first_day.isoformat(), *first) == (
            "0001-01-01",
            "GBP",
            "USD",
            "9999999999999999999999999999.9999999999",
        )
        assert default_rates[-1][0].isoformat() == "9999-12-31" and default_rates[-1][3] == "0.0000000001"
        assert sorted(clickhouse.fx_workspaces()) == sorted([DEFAULT_WORKSPACE_ID, built.finance])
        rows = sum(e["rows"] for e in expected.values())
    finally:
        warehouse.close()
        catalog.close()
        clickhouse.close()

    again = migrate(source, catalog_url, warehouse_url)
    assert again.exit_code == 0, again.output
    assert "catalog already copied" in again.output
    assert (
        "0 batches copied (0 Cost and Usage and 0 Contract Commitment rows staged), 7 already copied;"
        " tombstones: 0 copied, 1 already copied; FX rates: 0 workspaces copied (0 rates), 2 already copied"
        in again.output
    )
    assert (
        f"history: 0 batches copied (0 open ones closed as failed), {len(statuses)} already copied"
        in again.output
    )
    catalog, clickhouse = open_target(catalog_url, warehouse_url)
    try:
        assert sum(e["rows"] for e in target_totals(clickhouse, [DEFAULT_WORKSPACE_ID]).values()) == rows
        assert target_totals(clickhouse, [DEFAULT_WORKSPACE_ID], CC) == commitments
        assert len(target_tombstones(clickhouse)) == 1
    finally:
        catalog.close()
        clickhouse.close()


def test_an_fx_copy_stopped_mid_set_leaves_the_old_rates_and_resumes(
    built: Built, source: Path, targets: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog_url, warehouse_url = targets
    client_class = type(open_client(warehouse_url))
    insert_arrow = client_class.insert_arrow
    calls: list[str] = []

    def failing(self: Any, table: str, rows: Any, *args: Any, **kwargs: Any) -> Any:
        if table == "fx_rates" and rows.column("workspace_id")[0].as_py() == DEFAULT_WORKSPACE_ID:
            calls.append(table)
            if len(calls) == 3:  # the default workspace's third rate: its set is never published
                raise ConnectionError("connection lost")
        return insert_arrow(self, table, rows, *args, **kwargs)

    monkeypatch.setattr(ClickHouseWarehouse, "fx_chunk_rows", 1)
    monkeypatch.setattr(client_class, "insert_arrow", failing)
    stopped = migrate(source, catalog_url, warehouse_url)
    assert stopped.exit_code == 1
    assert "the FX rates copy stopped (ConnectionError: connection lost)" in stopped.output
    finance_first = built.finance < DEFAULT_WORKSPACE_ID  # workspaces are copied in id order
    catalog, clickhouse = open_target(catalog_url, warehouse_url)
    try:
        # Two of the default workspace's rates were inserted, unpublished: it lists none of them.
        assert clickhouse.list_rates(DEFAULT_WORKSPACE_ID, 100) == (0, [], [])
        staged = clickhouse._query(
            "SELECT count() FROM fx_rates WHERE workspace_id = {ws:String}", {"ws": DEFAULT_WORKSPACE_ID}
        )
        assert staged[0][0] == 2
        assert clickhouse.list_rates(built.finance, 100)[0] == (2 if finance_first else 0)
    finally:
        catalog.close()
        clickhouse.close()
    monkeypatch.setattr(client_class, "insert_arrow", insert_arrow)
    resumed = migrate(source, catalog_url, warehouse_url)
    assert resumed.exit_code == 0, resumed.output
    assert "verified: the target matches the source" in resumed.output
    copied = (
        "1 workspaces copied (5 rates), 1 already"
        if finance_first
        else "2 workspaces copied (7 rates), 0 already"
    )
    assert f"FX rates: {copied} copied" in resumed.output


def test_an_interrupted_copy_resumes_without_duplicates(source: Path, targets: tuple[str, str]) -> None:
    catalog_url, warehouse_url = targets
    warehouse = Warehouse.in_dir(source)
    catalog, clickhouse = open_target(catalog_url, warehouse_url)

    def interrupt(batch: SourceBatch, done: int) -> None:
        if batch.rows == 15 and done == 6:  # mid-way through the imported batch, 3 rows at a time
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            copy_warehouse(warehouse, clickhouse, chunk_rows=3, progress=interrupt)
    finally:
        warehouse.close()
        catalog.close()
        clickhouse.close()
    # Resumed with another chunk size: the staged prefix is kept, the rest staged once.
    result = migrate(source, catalog_url, warehouse_url, "--chunk-rows", "5")
    assert result.exit_code == 0, result.output
    assert "verified: the target matches the source" in result.output


def test_staged_rows_that_are_not_a_prefix_are_staged_again(source: Path, targets: tuple[str, str]) -> None:
    # An insert spanning several months is one part per month: a failure part-way through can leave a later
    # month's rows without an earlier month's. Simulated: the first 3 of 6 staged rows of a batch vanish.
    catalog_url, warehouse_url = targets
    warehouse = Warehouse.in_dir(source)
    catalog, clickhouse = open_target(catalog_url, warehouse_url)

    def interrupt(batch: SourceBatch, done: int) -> None:
        if batch.rows == 15 and done == 6:
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            copy_warehouse(warehouse, clickhouse, chunk_rows=3, progress=interrupt)
        ((seq,),) = clickhouse._query(
            "SELECT batch_seq FROM cost_rows WHERE batch_id NOT IN (SELECT changed_by FROM live_day_batches)"
            " GROUP BY batch_seq"
        )
        clickhouse._command(
            "DELETE FROM cost_rows WHERE batch_seq = {seq:UInt32} AND row_id < {cut:UInt64}",
            {"seq": seq, "cut": (int(seq) << 32) + 3},
        )
    finally:
        warehouse.close()
        catalog.close()
        clickhouse.close()
    result = migrate(source, catalog_url, warehouse_url, "--chunk-rows", "3")
    assert result.exit_code == 0, result.output
    assert "verified: the target matches the source" in result.output
    catalog, clickhouse = open_target(catalog_url, warehouse_url)
    try:  # the rollup was rebuilt with the batch: it agrees with the rows
        for dimension in ("ServiceName", "RegionId"):
            assert clickhouse.rollup_daily_totals(DEFAULT_WORKSPACE_ID, dimension) == clickhouse.daily_totals(
                DEFAULT_WORKSPACE_ID, dimension
            )
    finally:
        catalog.close()
        clickhouse.close()


def test_an_interrupted_commitment_batch_resumes_without_duplicates(
    source: Path, targets: tuple[str, str]
) -> None:
    catalog_url, warehouse_url = targets
    warehouse = Warehouse.in_dir(source)
    catalog, clickhouse = open_target(catalog_url, warehouse_url)

    def interrupt(batch: SourceBatch, done: int) -> None:
        if batch.ref.dataset is CC and batch.rows == 3 and done == 2:  # one row at a time
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            copy_warehouse(warehouse, clickhouse, chunk_rows=1, progress=interrupt)
        assert target_tombstones(clickhouse) == {}  # written after the rows: not reached
    finally:
        warehouse.close()
        catalog.close()
        clickhouse.close()
    result = migrate(source, catalog_url, warehouse_url, "--chunk-rows", "2")
    assert result.exit_code == 0, result.output
    # The two staged rows are kept, the third staged once; the tombstone is written now.
    assert "1 batches copied (0 Cost and Usage and 1 Contract Commitment rows staged), 6 already copied" in (
        result.output
    )
    assert "tombstones: 1 copied, 0 already copied" in result.output
    assert "verified: the target matches the source" in result.output


def test_rows_a_deleted_provider_left_behind_are_not_copied(
    built: Built, source: Path, targets: tuple[str, str]
) -> None:
    # Rows of a tombstoned provider still in the tables, which the server's next start would delete
    # (providers.delete_leftovers); simulated as live rows, the worst case.
    warehouse = Warehouse.in_dir(source)
    try:
        with warehouse.transaction() as cur:
            for table in ("cost_rows", "contract_commitment_rows"):
                cur.execute(
                    f"INSERT INTO {table} SELECT * REPLACE (? AS provider_id, 'bat_left_' || ? AS batch_id,"
                    f" row_seq + 1000 AS row_seq) FROM {table} WHERE superseded_by IS NULL LIMIT 1",
                    [built.gone, table],
                )
    finally:
        warehouse.close()
    catalog_url, warehouse_url = targets
    result = migrate(source, catalog_url, warehouse_url)
    assert result.exit_code == 0, result.output
    assert "verified: the target matches the source" in result.output
    catalog, clickhouse = open_target(catalog_url, warehouse_url)
    try:
        assert not [b for b in clickhouse.batch_seqs() if b.startswith("bat_left_")]
        assert clickhouse.tombstone(DEFAULT_WORKSPACE_ID, built.gone) is not None
    finally:
        catalog.close()
        clickhouse.close()


def test_verify_only_names_a_corrupted_target(built: Built, source: Path, targets: tuple[str, str]) -> None:
    catalog_url, warehouse_url = targets
    assert migrate(source, catalog_url, warehouse_url).exit_code == 0
    assert migrate(source, catalog_url, warehouse_url, "--verify-only").exit_code == 0
    catalog, clickhouse = open_target(catalog_url, warehouse_url)
    try:
        # A row's cost and a commitment's cost changed behind focusbase's back, a tombstone and a saved
        # view deleted.
        clickhouse._client.command(
            'ALTER TABLE cost_rows UPDATE "BilledCost" = "BilledCost" + 1 WHERE "BillingCurrency" = \'EUR\''
            ' AND "BilledCost" = 1.25 SETTINGS mutations_sync = 1'
        )
        clickhouse._client.command(
            "ALTER TABLE contract_commitment_rows"
            ' UPDATE "ContractCommitmentCost" = "ContractCommitmentCost" + 1'
            " WHERE \"ContractCommitmentId\" = 'c4' SETTINGS mutations_sync = 1"
        )
        clickhouse._client.command("DELETE FROM deleted_providers WHERE 1")
        # One workspace's rate changed, the other's rates removed, rates of a workspace the source lacks.
        clickhouse._client.command(
            "ALTER TABLE fx_rates UPDATE rate = rate + 1 WHERE from_currency = 'CHF'"
            " SETTINGS mutations_sync = 1"
        )
        clickhouse.replace_rates(DEFAULT_WORKSPACE_ID, [])
        clickhouse.replace_rates("ws_elsewhere", [(date(2026, 6, 1), "EUR", "USD", Decimal("1.5"))])
        with catalog.transaction() as tx:
            tx.execute("DELETE FROM saved_views")
    finally:
        catalog.close()
        clickhouse.close()
    result = migrate(source, catalog_url, warehouse_url, "--verify-only")
    assert result.exit_code == 1
    assert "mismatch: catalog table saved_views: 1 rows in the source, 0 in the target" in result.output
    assert "BilledCost: 6.75 in the source, 7.75 in the target" in result.output
    assert "/EUR BilledCost" in result.output
    assert (
        f"mismatch: warehouse Contract Commitment {DEFAULT_WORKSPACE_ID}/{built.acme}/EUR"
        " ContractCommitmentCost: 2.5 in the source, 3.5 in the target" in result.output
    )
    assert (
        f"mismatch: fx rates {built.finance}: CHF->EUR 0.9500000000 on 2026-06-03 in the source,"
        " CHF->EUR 1.9500000000 on 2026-06-03 in the target" in result.output
    )
    assert (
        f"mismatch: fx rates {DEFAULT_WORKSPACE_ID}: 5 rates in the source, 0 in the target" in result.output
    )
    assert "mismatch: fx rates ws_elsewhere: 0 rates in the source, 1 in the target" in result.output
    deleted_at = source_tombstones_of(source)[(DEFAULT_WORKSPACE_ID, built.gone)]
    assert (
        f"mismatch: tombstone {DEFAULT_WORKSPACE_ID}/{built.gone}: deleted at {deleted_at} in the source,"
        " - in the target" in result.output
    )


def source_tombstones_of(data_dir: Path) -> dict[tuple[str, str], str]:
    warehouse = Warehouse.in_dir(data_dir)
    try:
        return source_tombstones(warehouse)
    finally:
        warehouse.close()


def test_a_non_empty_target_catalog_is_refused(source: Path, targets: tuple[str, str]) -> None:
    catalog_url, warehouse_url = targets
    catalog = PostgresCatalog(catalog_url, pool_size=2)
    try:
        create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="someone else's", scopes=["read"])
    finally:
        catalog.close()
    result = migrate(source, catalog_url, warehouse_url)
    assert result.exit_code == 1
    assert "catalog not copied: the target catalog is not empty" in result.output
    assert "1 rows in api_keys)" in result.output
    catalog, clickhouse = open_target(catalog_url, warehouse_url)
    try:
        assert clickhouse.batch_seqs() == {}  # nothing was written to the warehouse either
    finally:
        catalog.close()
        clickhouse.close()


def test_a_target_catalog_of_another_version_is_refused(source: Path, targets: tuple[str, str]) -> None:
    catalog_url, warehouse_url = targets
    catalog = PostgresCatalog(catalog_url, pool_size=2)
    try:
        with catalog.transaction() as tx:  # as a newer focusbase would have left it
            tx.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)", (9999, "9999_future.sql", "2027-01-01")
            )
    finally:
        catalog.close()
    result = migrate(source, catalog_url, warehouse_url)
    assert result.exit_code == 1
    latest = migrations.load("catalog")[-1].number
    assert f"catalog not copied: the source catalog is at migration {latest} and the target at 9999" in (
        result.output
    )
    assert "run both with the same focusbase version" in result.output


def test_a_running_server_is_refused(source: Path, targets: tuple[str, str]) -> None:
    catalog_url, warehouse_url = targets
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; held = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " time.sleep(60)",
            str(source / "warehouse.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = migrate(source, catalog_url, warehouse_url)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert result.exit_code == 1
    assert "stop the server before migrating" in result.output


def test_bad_warehouse_urls_are_named(source: Path, postgres_url: str) -> None:
    result = migrate(source, postgres_url, "mysql://db/x")
    assert result.exit_code == 1
    assert "must start with chdb://, clickhouse://, http:// or https://" in result.output


def test_server_urls_become_http_client_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(clickhouse_connect, "get_client", lambda **kwargs: calls.append(kwargs))
    open_client("clickhouse://fb:s%40cret@ch.internal/costs")
    open_client("https://ch.example.com:9443/")
    open_client("clickhouse://ch.internal:8124/costs?secure=true")
    assert calls == [
        {
            "interface": "http",
            "host": "ch.internal",
            "port": 8123,
            "username": "fb",
            "password": "s@cret",
            "database": "costs",
            "secure": False,
        },
        {
            "interface": "https",
            "host": "ch.example.com",
            "port": 9443,
            "username": "default",
            "password": "",
            "database": "default",
            "secure": True,
        },
        {
            "interface": "https",
            "host": "ch.internal",
            "port": 8124,
            "username": "default",
            "password": "",
            "database": "costs",
            "secure": True,
        },
    ]


def test_a_server_on_the_migrated_deployment_continues_the_history(
    built: Built, source: Path, targets: tuple[str, str], tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from focusbase.app import create_app
    from focusbase.config import Settings

    catalog_url, warehouse_url = targets
    assert migrate(source, catalog_url, warehouse_url).exit_code == 0
    settings = Settings(
        data_dir=tmp_path / "replica", secret_key="k", catalog_url=catalog_url, warehouse_url=warehouse_url
    )
    admin = {"Authorization": f"Bearer {built.admin_key}"}
    with TestClient(create_app(settings)) as client:
        listed = client.get(f"/api/v1/providers/{built.acme}/batches", headers=admin).json()["batches"]
        assert built.batches["first"] in {b["id"] for b in listed}
        before = client.get("/focus/v1/cost-and-usage", params={"pageSize": 1000}, headers=admin).json()
        key = client.post(f"/api/v1/providers/{built.acme}/ingest-key", headers=admin).json()["ingestKey"]
        pushed = client.post(
            f"/api/v1/public/ingest/focus/{built.acme}",
            content=envelope([row("2026-09-30", "1")]),
            params={"mode": "append"},
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        assert pushed.status_code == 200, pushed.text
        after = client.get("/focus/v1/cost-and-usage", params={"pageSize": 1000}, headers=admin).json()
        assert len(after["data"]) == len(before["data"]) + 1
        # The new batch's rows are its own: every copied record is still served as it was.
        new = [r for r in after["data"] if r not in before["data"]]
        assert len(new) == 1 and new[0]["ChargePeriodStart"].startswith("2026-09-30")
