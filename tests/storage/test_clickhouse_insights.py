"""The savings, dashboard, cost-totals and row-count reads on ClickHouse answer what DuckDB answers.

A data directory is built through the API: three providers, USD and EUR, commitment discounts (spend- and
usage-based, used, unused, purchases, covered and on-demand usage of the same and of other services, rows
without ListCost or ContractedCost, 12 decimals), Contract Commitment batches (one replaced by the next), a
FOCUS sample import, a replaced day and a reverted batch. Every read is answered by `DuckDBInsightReads` over
that directory and by the ClickHouse warehouse after `focusbase migrate-storage`, for an admin key, a
provider-scoped key and a key scoped to no provider, over several windows and an empty one; the savings and
dashboard JSON the services build on each must be equal.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from focusbase.analytics.dashboard import COST_METRICS, build_dashboard
from focusbase.analytics.explorer import ExplorerError
from focusbase.analytics.savings import build_savings
from focusbase.cli import _register, app
from focusbase.config import Settings
from focusbase.query.filters import Scope
from focusbase.query.totals import cost_totals
from focusbase.storage import Catalog, Warehouse, open_catalog
from focusbase.storage.analytics import QueryTimeout, ValueOutOfRange
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.storage.cost_rows import Replace
from focusbase.storage.explorer_reads import DuckDBExplorerReads
from focusbase.storage.ingest_store import DuckDBIngestStore
from focusbase.storage.insight_reads import DuckDBInsightReads, InsightReads
from tests.ingest.conftest import commitment, row
from tests.storage.sources import api_source

pytest.importorskip("psycopg")
pytest.importorskip("clickhouse_connect")
pytest.importorskip("chdb")

from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_client import open_client
from focusbase.storage.clickhouse_types import BatchRef
from focusbase.storage.postgres import PostgresCatalog
from tests.storage.test_clickhouse_warehouse import Row, at, table

WS = DEFAULT_WORKSPACE_ID
# [start, end) charge-day windows of the savings: all, inside, open at either end, empty ones.
WINDOWS: list[tuple[date | None, date | None]] = [
    (None, None),
    (date(2026, 6, 1), date(2026, 6, 3)),
    (date(2026, 6, 2), None),
    (None, date(2026, 6, 2)),
    (date(2026, 7, 1), date(2026, 8, 1)),
    (date(2027, 1, 1), date(2027, 2, 1)),  # no rows
    (date(2026, 6, 2), date(2026, 6, 2)),  # empty range
]
AS_OF = [date(2026, 6, 3), date(2026, 7, 3), date(2026, 7, 31), date(2027, 3, 1)]  # the last: no rows


def usage(day: str, cost: str, **extra: Any) -> dict[str, Any]:
    """On-demand usage (valid FOCUS: PricingCategory set on every usage and purchase row)."""
    return row(day, cost, **{"PricingCategory": "Standard", **extra})


def used(day: str, commitment_id: str, effective: str, quantity: str, **extra: Any) -> dict[str, Any]:
    """Usage a commitment discount covered."""
    return row(
        day,
        effective,
        EffectiveCost=Decimal(effective),
        CommitmentDiscountId=commitment_id,
        CommitmentDiscountStatus="Used",
        CommitmentDiscountQuantity=Decimal(quantity),
        PricingCategory="Committed",
        **extra,
    )


def unused(day: str, commitment_id: str, effective: str, quantity: str, **extra: Any) -> dict[str, Any]:
    """The unused part of a commitment discount."""
    return row(
        day,
        "0",
        EffectiveCost=Decimal(effective),
        CommitmentDiscountId=commitment_id,
        CommitmentDiscountStatus="Unused",
        CommitmentDiscountQuantity=Decimal(quantity),
        PricingCategory="Committed",
        **extra,
    )


@dataclass
class Built:
    """The data directory the embedded server wrote, and its providers' ids."""

    data_dir: Path
    acme: str
    euro: str
    aws: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    data_dir = tmp_path_factory.mktemp("insights") / "data"
    with api_source(data_dir) as source:
        client, headers, push = source.client, source.headers, source.push
        acme = source.provider("Acme Cloud", "USD")
        euro = source.provider("Euro Cloud", "EUR")
        aws = source.provider("AWS", "USD")
        spend = {
            "CommitmentDiscountCategory": "Spend",
            "CommitmentDiscountType": "Savings Plan",
            "CommitmentDiscountName": "SP one",
            "CommitmentDiscountUnit": "USD",
        }
        hours = {
            "CommitmentDiscountCategory": "Usage",
            "CommitmentDiscountType": "Reservation",
            "CommitmentDiscountName": "RI two",
            "CommitmentDiscountUnit": "Hours",
        }
        push(
            acme,
            [
                used(
                    "2026-06-01",
                    "cd-1",
                    "4",
                    "4",
                    ListCost=Decimal("10"),
                    ContractedCost=Decimal("8"),
                    **spend,
                ),
                used("2026-06-02", "cd-1", "2.000000000001", "2", ListCost=Decimal("3"), **spend),
                unused("2026-06-01", "cd-1", "1.5", "1.5", ServiceName="Other", **spend),
                usage(
                    "2026-06-01",
                    "30",
                    EffectiveCost=Decimal("0"),
                    ChargeCategory="Purchase",
                    CommitmentDiscountId="cd-1",
                    CommitmentDiscountQuantity=Decimal("30"),
                    **spend,
                ),
                used(
                    "2026-06-02",
                    "cd-2",
                    "5",
                    "2.5",
                    ServiceName="Database",
                    ContractedCost=Decimal("12345678901234.123456789012"),
                    **hours,
                ),
                unused("2026-06-03", "cd-2", "0.75", "0.5", ServiceName="Database", **hours),
                unused("2026-06-03", "cd-3", "2", "1", ServiceName="Database", **hours),  # never used
                # On demand: Compute and Database had covered usage (eligible), Storage did not.
                usage("2026-06-02", "3", EffectiveCost=Decimal("3")),
                usage("2026-06-03", "7", ServiceName="Database", ListCost=Decimal("9")),
                usage("2026-06-03", "5", ServiceName="Storage"),
                usage("2026-06-04", "-0.000000000001", ServiceName="Storage"),
                usage("2026-07-01", "11", ServiceName="Network", ListCost=Decimal("12.5")),
                usage("2026-07-03", "2.5", ServiceName="Compute"),
                used("2026-07-02", "cd-1", "6", "6", **spend),
            ],
        )
        push(acme, [usage("2026-06-04", "1", ServiceName="Storage")])  # replaces 2026-06-04
        reverted = push(acme, [usage("2026-07-03", "99")])
        response = client.post(f"/api/v1/batches/{reverted}/revert", headers=headers)
        assert response.status_code == 200, response.text
        push(acme, [usage("2026-07-05", "4", ServiceName="Queue")], mode="append")  # Acme's last change
        push(
            euro,
            [
                *(usage(f"2026-06-{d:02d}", f"{d}.25", BillingCurrency="EUR") for d in (1, 2, 3, 30)),
                used("2026-06-02", "cd-1", "1.25", "1.25", BillingCurrency="EUR", **spend),  # cd-1 in EUR too
                usage("2026-07-02", "8", BillingCurrency="EUR", ServiceName="Storage"),
            ],
        )
        source.import_sample(aws)

        contracts = source.commitments
        contracts(acme, [commitment("cd-1", "500")], "replace_all")  # replaced by the next
        contracts(
            acme,
            [
                commitment("cd-1", "1000"),
                commitment("cd-1", "0.000000000001"),
                commitment(
                    "cd-2",
                    "12345678901234.123456789012",
                    ContractCommitmentQuantity=Decimal("3.5"),
                    ContractCommitmentUnit="Hours",
                    ContractCommitmentCategory="Usage",
                ),
            ],
            "replace_all",
        )
        contracts(acme, [commitment("cd-7", "70")], "append")  # no commitment discount of that id
        contracts(euro, [commitment("cd-9", "2.5", BillingCurrency="EUR")], "replace_all")
    return Built(data_dir, acme.id, euro.id, aws.id)


@pytest.fixture(scope="module")
def target(
    built: Built, tmp_path_factory: pytest.TempPathFactory, postgres_server: str, chdb_path: Path
) -> Iterator[tuple[ClickHouseWarehouse, PostgresCatalog]]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    postgres_url = f"{postgres_server}&options=-csearch_path%3D{schema}"
    _register()
    source = tmp_path_factory.mktemp("copy") / "data"
    shutil.copytree(built.data_dir, source)
    warehouse_url = f"chdb://{chdb_path}?database=i_{uuid.uuid4().hex[:12]}"
    args = ["migrate-storage", "--data-dir", str(source), "--catalog-url", postgres_url]
    result = CliRunner().invoke(app, [*args, "--warehouse-url", warehouse_url])
    assert result.exit_code == 0, result.output
    catalog = PostgresCatalog(postgres_url, pool_size=1)
    yield ClickHouseWarehouse(open_client(warehouse_url), catalog), catalog
    catalog.close()


@pytest.fixture(scope="module")
def embedded(built: Built) -> Iterator[tuple[Warehouse, Catalog]]:
    warehouse = Warehouse.in_dir(built.data_dir)
    catalog = open_catalog(Settings(data_dir=built.data_dir))
    yield warehouse, catalog
    catalog.close()
    warehouse.close()


def _scopes(built: Built) -> list[Scope]:
    return [Scope(WS), Scope(WS, frozenset({built.acme})), Scope(WS, frozenset({built.euro, built.aws}))]


def test_savings_sums_are_the_embedded_warehouses(
    built: Built, embedded: tuple[Warehouse, Catalog], target: tuple[ClickHouseWarehouse, PostgresCatalog]
) -> None:
    duck, house = DuckDBInsightReads(embedded[0]), target[0]
    compared = commitments = contracts = nulls = 0
    for scope in [*_scopes(built), Scope(WS, frozenset())]:
        for start, end in WINDOWS:
            for limit in (1000, 2):
                want = duck.savings_sums(scope, start, end, commitment_limit=limit, timeout_seconds=30)
                got = house.savings_sums(scope, start, end, commitment_limit=limit, timeout_seconds=30)
                label = (scope.provider_ids, start, end, limit)
                assert got.currencies == want.currencies, label
                assert got.commitments == want.commitments, label
                assert got.contracts == want.contracts, label
                compared += 1
                commitments += len(want.commitments)
                contracts += len(want.contracts)
                nulls += sum(c.list_cost is None or c.used_quantity is None for c in want.commitments)
    # Not vacuous: commitments, joined contract commitments and NULL sums were compared.
    assert compared == 4 * len(WINDOWS) * 2 and commitments > 20 and contracts > 5 and nulls > 0
    whole = duck.savings_sums(Scope(WS), None, None, commitment_limit=100, timeout_seconds=30)
    usd = next(c for c in whole.currencies if c.currency == "USD")
    assert usd.covered_cost and usd.on_demand_cost and usd.unused_cost and usd.purchase_cost
    assert (whole.contracts["cd-1"]["cost"], whole.contracts["cd-1"]["rows"]) == ("1000.000000000001", 2)
    assert {c.currency for c in whole.currencies} == {"USD", "EUR"}


def test_savings_json_is_equal_on_both(
    built: Built, embedded: tuple[Warehouse, Catalog], target: tuple[ClickHouseWarehouse, PostgresCatalog]
) -> None:
    for groups in (1000, 1):
        settings = Settings(data_dir=built.data_dir, explorer_max_groups=groups)
        for scope in _scopes(built):
            for start, end in WINDOWS:
                want = build_savings(DuckDBInsightReads(embedded[0]), settings, scope, start=start, end=end)
                got = build_savings(target[0], settings, scope, start=start, end=end)
                assert orjson.dumps(got) == orjson.dumps(want), (groups, scope.provider_ids, start, end)
    answer = build_savings(target[0], Settings(data_dir=built.data_dir), Scope(WS))
    usd = next(t for t in answer["totals"] if t["currency"] == "USD")
    assert usd["coverage"] is not None and usd["utilization"] is not None
    cd1 = next(
        c for c in answer["commitments"] if c["commitmentDiscountId"] == "cd-1" and c["currency"] == "USD"
    )
    assert cd1["contractCommitment"]["cost"] == "1000.000000000001"  # the replaced 500 is not live


def test_dashboard_json_is_equal_on_both(
    built: Built, embedded: tuple[Warehouse, Catalog], target: tuple[ClickHouseWarehouse, PostgresCatalog]
) -> None:
    warehouse, catalog = embedded
    house, house_catalog = target
    settings = Settings(data_dir=built.data_dir)
    duck_explorer, duck_insights = DuckDBExplorerReads(warehouse), DuckDBInsightReads(warehouse)
    figures = 0
    for scope in _scopes(built):
        for as_of in AS_OF:
            for metric in COST_METRICS:
                want = build_dashboard(
                    duck_explorer, duck_insights, catalog, settings, scope, metric=metric, as_of=as_of
                )
                got = build_dashboard(
                    house, house, house_catalog, settings, scope, metric=metric, as_of=as_of
                )
                assert orjson.dumps(got) == orjson.dumps(want), (scope.provider_ids, as_of, metric)
                figures += len(want["last30Days"]) + len(want["topServices"]) + len(want["biggestMovers"])
    assert figures > 100
    july = build_dashboard(house, house, house_catalog, settings, Scope(WS), as_of=date(2026, 7, 3))
    fresh = {f["providerId"]: f for f in july["freshness"]}
    assert fresh[built.acme]["lastDay"] == "2026-07-05" and fresh[built.acme]["lastUpdated"] is not None
    assert july["monthToDate"] and july["biggestMovers"] and july["topProviders"]


def test_cost_totals_and_provider_days_are_the_embedded_warehouses(
    built: Built, embedded: tuple[Warehouse, Catalog], target: tuple[ClickHouseWarehouse, PostgresCatalog]
) -> None:
    warehouse, catalog = embedded
    house, house_catalog = target
    duck = DuckDBInsightReads(warehouse)
    for scope in [*_scopes(built), Scope(WS, frozenset())]:
        assert house.cost_totals(scope) == duck.cost_totals(scope), scope.provider_ids
        assert house.provider_days(scope, timeout_seconds=30) == duck.provider_days(scope, timeout_seconds=30)
        assert cost_totals(house_catalog, house, scope) == cost_totals(catalog, duck, scope)
    totals = {(t.provider_id, t.currency): t for t in house.cost_totals(Scope(WS))}
    assert set(totals) == {(built.acme, "USD"), (built.euro, "EUR"), (built.aws, "USD")}
    assert totals[(built.acme, "USD")].last_charge == datetime(2026, 7, 5)


def test_row_counts_are_the_embedded_warehouses(
    built: Built, embedded: tuple[Warehouse, Catalog], target: tuple[ClickHouseWarehouse, PostgresCatalog]
) -> None:
    duck, house = DuckDBInsightReads(embedded[0]), target[0]
    assert house.live_row_counts(WS) == duck.live_row_counts(WS)
    assert set(duck.live_row_counts(WS)) == {built.acme, built.euro, built.aws}
    for provider in (built.acme, built.euro, built.aws, "prv_none"):
        assert house.live_row_counts(WS, provider) == duck.live_row_counts(WS, provider)
    assert house.live_row_counts("ws_other") == {}
    # The deletion count (IngestStore's): providers whose every stored row is live hold the same rows in both.
    stored = DuckDBIngestStore(embedded[0])
    for provider in (built.euro, built.aws, "prv_none"):
        assert house.stored_row_counts(WS, provider) == stored.stored_row_counts(WS, provider)
    # migrate-storage copies live rows only: Acme's replaced and reverted versions stayed behind.
    acme = stored.stored_row_counts(WS, built.acme)
    copied = house.stored_row_counts(WS, built.acme)
    assert copied == {"cost": duck.live_row_counts(WS, built.acme)[built.acme], "contractCommitment": 4}
    assert acme["cost"] > copied["cost"] and acme["contractCommitment"] > copied["contractCommitment"]


def _fresh(chdb_path: Path, tmp_path: Path) -> tuple[ClickHouseWarehouse, Catalog]:
    name = f"x_{uuid.uuid4().hex[:12]}"
    open_client(f"chdb://{chdb_path}").command(f"CREATE DATABASE {name}")
    catalog = open_catalog(Settings(data_dir=tmp_path))
    return ClickHouseWarehouse(open_client(f"chdb://{chdb_path}?database={name}"), catalog), catalog


def test_stored_counts_keep_every_version_and_staged_rows_and_live_counts_follow_commits(
    chdb_path: Path, tmp_path: Path
) -> None:
    house, catalog = _fresh(chdb_path, tmp_path)
    reads: InsightReads = house
    first = BatchRef(WS, "prv_a", "bat_1", 1)
    house.stage(first, 0, 0, table([Row(at(1), Decimal("1")), Row(at(2), Decimal("2"))]))
    assert house.stored_row_counts(WS, "prv_a") == {"cost": 2, "contractCommitment": 0}
    assert reads.live_row_counts(WS) == {}  # staged rows are invisible
    house.commit(first, Replace("append"), at=datetime(2026, 2, 1, tzinfo=UTC))
    second = BatchRef(WS, "prv_a", "bat_2", 2)
    house.stage(second, 0, 0, table([Row(at(2), Decimal("5"))]))
    house.commit(second, Replace("replace_days"), at=datetime(2026, 2, 2, tzinfo=UTC))
    assert reads.live_row_counts(WS) == {"prv_a": 2}
    assert house.stored_row_counts(WS, "prv_a") == {"cost": 3, "contractCommitment": 0}
    assert reads.provider_days(Scope(WS), timeout_seconds=30) == {
        "prv_a": (date(2026, 1, 1), date(2026, 1, 2), 2)
    }
    [total] = reads.cost_totals(Scope(WS))
    assert (total.rows, total.billed_cost, total.effective_cost) == (2, "6", "6")
    house.delete_provider(WS, "prv_a")
    assert reads.live_row_counts(WS) == {} and reads.cost_totals(Scope(WS)) == []
    assert reads.provider_days(Scope(WS), timeout_seconds=30) == {}
    house.purge_deleted()
    assert house.stored_row_counts(WS, "prv_a") == {"cost": 0, "contractCommitment": 0}
    catalog.close()


def test_a_sum_beyond_decimal_38_12_is_refused_and_a_slow_read_stopped(
    chdb_path: Path, tmp_path: Path
) -> None:
    house, catalog = _fresh(chdb_path, tmp_path)
    big = Decimal("90000000000000000000000000")  # each batch fits; the two together do not
    for seq, rows in ((1, [Row(at(1), big), Row(at(2), Decimal("1"))]), (2, [Row(at(1, 5), big)])):
        ref = BatchRef(WS, "prv_a", f"bat_{seq}", seq)
        house.stage(ref, 0, 0, table(rows))
        house.commit(ref, Replace("append"), at=datetime(2026, 2, seq, tzinfo=UTC))
    with pytest.raises(ValueOutOfRange):
        house.savings_sums(Scope(WS), None, None, commitment_limit=10, timeout_seconds=30)
    with pytest.raises(ValueOutOfRange):
        house.cost_totals(Scope(WS))
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(ExplorerError) as refused:
        build_savings(house, settings, Scope(WS))
    assert (refused.value.status, refused.value.code) == (422, "value_out_of_range")
    # One day alone fits: the Decimal256 sum is exact and within range.
    one = house.savings_sums(Scope(WS), date(2026, 1, 2), None, commitment_limit=10, timeout_seconds=30)
    assert [(c.currency, c.effective_cost) for c in one.currencies] == [("USD", "1.000000000000")]
    with pytest.raises(QueryTimeout):
        house.savings_sums(Scope(WS), None, None, commitment_limit=10, timeout_seconds=1e-9)
    with pytest.raises(QueryTimeout):
        house.provider_days(Scope(WS), timeout_seconds=1e-9)
    stopped = Settings(data_dir=tmp_path, explorer_timeout_seconds=1e-9)
    with pytest.raises(ExplorerError) as timed_out:
        build_savings(house, stopped, Scope(WS))
    assert (timed_out.value.status, timed_out.value.code) == (503, "query_timeout")
    with pytest.raises(ExplorerError) as dashboard_timed_out:
        build_dashboard(house, house, catalog, stopped, Scope(WS), as_of=date(2026, 1, 2))
    assert dashboard_timed_out.value.code == "query_timeout"
    catalog.close()
