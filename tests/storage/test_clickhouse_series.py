"""The daily spend series on the ClickHouse warehouse answer what the embedded warehouse answers.

A data directory is built through the API (three providers, USD and EUR, purchases, taxes and recurring
charges, dimensions left NULL, tags, x_ columns, rows lacking ListCost or ContractedCost, 12-decimal amounts,
a FOCUS sample import, a replaced and a reverted batch). Every read of `SpendSeries` (a provider's daily
cells, a saved view's filtered cells for an admin and a provider-scoped key, with and without detail, each
cost metric, currency restrictions, the providers with data and a budget's daily spend, over several ranges,
empty ones included) is answered by `DuckDBSpendSeries` over that directory and by the ClickHouse warehouse
after `focusbase migrate-storage`: the same cells with the same exact decimals, and the same series loaded
for anomaly detection."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from focusbase.analytics.anomaly_service import load_provider, load_view
from focusbase.analytics.model import ExplorerQuery, Filter, parse_query
from focusbase.cli import _register, app
from focusbase.config import Settings
from focusbase.query.filters import Scope
from focusbase.storage import Warehouse, open_catalog
from focusbase.storage.analytics import rollup_answers
from focusbase.storage.anomalies import DailyCell
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.storage.cost_rows import Replace
from focusbase.storage.spend_series import DuckDBSpendSeries, SpendSeries
from tests.ingest.conftest import row
from tests.storage.sources import api_source

pytest.importorskip("psycopg")
pytest.importorskip("clickhouse_connect")
pytest.importorskip("chdb")

from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_client import open_client
from focusbase.storage.clickhouse_types import BatchRef, WarehouseValueOutOfRange
from focusbase.storage.postgres import PostgresCatalog
from tests.storage.test_clickhouse_warehouse import Row, at, table

# Saved views' filter sets; "?" is replaced by the Euro provider's id.
FILTER_SETS: list[list[dict[str, Any]]] = [
    [],
    [{"dimension": "provider", "op": "in", "values": ["?", "no-such-provider"]}],
    [{"dimension": "provider", "op": "not_in", "values": ["?"]}],
    [{"dimension": "ServiceName", "op": "equals", "values": ["Compute"]}],
    [{"dimension": "ServiceName", "op": "in", "values": ["Storage", "Network"]}],
    [{"dimension": "ServiceName", "op": "contains", "values": ["OMP"]}],
    [{"dimension": "RegionId", "op": "not_in", "values": ["eu-west-1"]}],
    [{"dimension": "RegionId", "op": "absent"}],
    [{"dimension": "ChargeCategory", "op": "equals", "values": ["Purchase"]}],
    [{"dimension": "tag:env", "op": "equals", "values": ["prod"]}],
    [{"dimension": "tag:env", "op": "not_in", "values": ["prod"]}],
    [{"dimension": "tag:team", "op": "contains", "values": ["A/"]}],
    [{"dimension": "x_Owner", "op": "present"}],
    [{"dimension": "x_Owner", "op": "in", "values": ["ops", "dev"]}],
    [{"dimension": "x_Owner", "op": "not_in", "values": ["ops"]}],
    [
        {"dimension": "ServiceName", "op": "not_in", "values": ["Network"]},
        {"dimension": "tag:env", "op": "present"},
    ],
    [
        {"dimension": "provider", "op": "in", "values": ["?"]},
        {"dimension": "SubAccountId", "op": "contains", "values": ["SUB"]},
    ],
]
# (metric, currency, detail): a view's series (detail) and a budget's (per day and currency only).
READS = [
    ("EffectiveCost", None, True),
    ("BilledCost", None, False),
    ("BilledCost", "EUR", False),
    ("ListCost", "USD", True),
    ("ContractedCost", None, True),
    ("EffectiveCost", "XXX", False),
]
RANGES = [
    (date(2000, 1, 1), date(2030, 12, 31)),
    (date(2026, 5, 30), date(2026, 6, 2)),
    (date(2026, 6, 2), date(2026, 6, 2)),  # one day
    (date(2026, 6, 5), date(2026, 6, 1)),  # empty: since after until
    (date(2027, 1, 1), date(2027, 12, 31)),  # no data
]


class Built:
    """The data directory the embedded server wrote, and the ids the reads need."""

    def __init__(self, data_dir: Path, acme: str, euro: str, aws: str) -> None:
        self.data_dir = data_dir
        self.acme = acme
        self.euro = euro
        self.aws = aws


def _row(day: str, cost: str, **extra: Any) -> dict[str, Any]:
    """A row with a ChargeFrequency (once one row has it, every row must)."""
    return row(day, cost, **{"ChargeFrequency": "Usage-Based", **extra})


def _acme_rows() -> list[dict[str, Any]]:
    rows = []
    for d in range(25, 32):  # May: usage, recurring support, and a day's tax
        rows.append(_row(f"2026-05-{d:02d}", f"{d}.123456789012", SubAccountId="sub-1", RegionId="us-east-1"))
        rows.append(_row(f"2026-05-{d:02d}", "2", ServiceName="Support", ChargeFrequency="Recurring"))
    rows += [
        _row("2026-05-28", "1.5", ChargeCategory="Tax", ServiceName="Tax"),
        _row(
            "2026-06-01",
            "10.5",
            EffectiveCost=Decimal("8.000000000001"),
            ListCost=Decimal("11"),
            Tags={"team": "a/b", "env": "prod", "n": 1},
            RegionId="eu-west-1",
            SubAccountId="SUB-2",
            x_Owner="ops",
        ),
        _row(
            "2026-06-01", "4", Tags={"team": "c", "env": None}, x_Owner="dev", ChargeFrequency="Usage-Based"
        ),
        _row(
            "2026-06-01", "100", ChargeCategory="Purchase", ChargeFrequency="One-Time", ServiceName="Compute"
        ),
        _row("2026-06-02", "20", ContractedCost=Decimal("12345678901234.123456789012"), x_Owner="eng"),
        _row("2026-06-02", "7", BillingCurrency="EUR", ServiceName="Storage", RegionId="eu-west-1"),
        _row("2026-06-07", "7", ServiceName="Storage", Tags={"env": "test"}, SubAccountId="sub-1"),
        _row("2026-06-08", "7", ServiceName="Network", RegionId="us-east-1", x_Owner="ops"),
        _row("2026-07-03", "-0.000000000001", ServiceName="Storage", RegionId="eu-west-1"),
    ]
    return rows


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    data_dir = tmp_path_factory.mktemp("series") / "data"
    with api_source(data_dir) as source:
        client, headers = source.client, source.headers
        acme = source.provider("Acme Cloud", "USD")
        euro = source.provider("Euro Cloud", "EUR")
        aws = source.provider("AWS", "USD")
        push = source.push
        push(acme, _acme_rows())
        push(acme, [_row("2026-06-08", "3", ServiceName="Network", x_Note="replaced")])  # replaces 2026-06-08
        reverted = push(acme, [_row("2026-07-03", "99")])
        response = client.post(f"/api/v1/batches/{reverted}/revert", headers=headers)
        assert response.status_code == 200, response.text
        push(
            euro,
            [
                row(
                    f"2026-06-{d:02d}",
                    f"{d}.25",
                    BillingCurrency="EUR",
                    Tags={"env": "prod"},
                    x_Owner="ops",
                    SubAccountId="sub-eu",
                    ChargeFrequency="Recurring" if d == 3 else "Usage-Based",
                )
                for d in (1, 2, 3, 8)
            ],
        )
        source.import_sample(aws)
    return Built(data_dir, acme.id, euro.id, aws.id)


@pytest.fixture(scope="module")
def embedded(built: Built) -> Any:
    warehouse = Warehouse.in_dir(built.data_dir)
    yield DuckDBSpendSeries(warehouse)
    warehouse.close()


@pytest.fixture(scope="module")
def warehouse(
    built: Built, tmp_path_factory: pytest.TempPathFactory, postgres_server: str, chdb_path: Path
) -> ClickHouseWarehouse:
    """The directory copied by `migrate-storage` once for the module: the tests here only read."""
    import psycopg

    _register()
    source = tmp_path_factory.mktemp("series-copy") / "data"
    shutil.copytree(built.data_dir, source)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    postgres_url = f"{postgres_server}&options=-csearch_path%3D{schema}"
    warehouse_url = f"chdb://{chdb_path}?database=s_{uuid.uuid4().hex[:12]}"
    args = ["migrate-storage", "--data-dir", str(source), "--catalog-url", postgres_url]
    result = CliRunner().invoke(app, [*args, "--warehouse-url", warehouse_url])
    assert result.exit_code == 0, result.output
    return ClickHouseWarehouse(open_client(warehouse_url), PostgresCatalog(postgres_url, pool_size=1))


def _filters(built: Built, given: list[dict[str, Any]]) -> tuple[Filter, ...]:
    with_ids = [
        {**f, "values": [built.euro if v == "?" else v for v in f["values"]]} if "values" in f else f
        for f in given
    ]
    return parse_query({"filters": with_ids}, max_groups=10).filters


def _key(cell: DailyCell) -> tuple[object, ...]:
    """A cell with its sums as text: equal cells write the same decimals (every place, the sign of zero)."""
    return (
        cell.day,
        cell.provider_id,
        cell.currency,
        cell.service,
        cell.account,
        cell.region,
        str(cell.cost),
        str(cell.expected),
    )


def _same(got: list[DailyCell], want: list[DailyCell], label: object) -> None:
    # DuckDB orders by day only; within a day its order is the engine's.
    assert sorted(map(_key, got)) == sorted(map(_key, want)), label
    assert [c.day for c in got] == sorted(c.day for c in got), label


def test_a_providers_daily_cells_are_the_embedded_warehouses(
    built: Built, embedded: DuckDBSpendSeries, warehouse: ClickHouseWarehouse
) -> None:
    series: SpendSeries = warehouse
    compared = expected = blanks = 0
    for provider in (built.acme, built.euro, built.aws, "no-such-provider"):
        for since, until in RANGES:
            want = embedded.daily_cells(DEFAULT_WORKSPACE_ID, provider, since, until)
            got = series.daily_cells(DEFAULT_WORKSPACE_ID, provider, since, until)
            _same(got, want, (provider, since, until))
            compared += len(want)
            expected += sum(1 for c in want if c.expected)
            blanks += sum(1 for c in want if "" in (c.service, c.region, c.account))
    assert compared > 40 and expected > 5 and blanks > 5
    assert warehouse.daily_cells("ws_nobody", built.acme, *RANGES[0]) == []


def test_a_views_filtered_cells_are_the_embedded_warehouses(
    built: Built, embedded: DuckDBSpendSeries, warehouse: ClickHouseWarehouse
) -> None:
    scopes = [Scope(DEFAULT_WORKSPACE_ID), Scope(DEFAULT_WORKSPACE_ID, frozenset({built.acme, built.aws}))]
    compared = cells = rollups = rows = 0
    for given in FILTER_SETS:
        filters = _filters(built, given)
        for metric, currency, detail in READS:
            rollup = rollup_answers(ExplorerQuery(metric=metric, filters=filters))
            for scope in scopes:
                for since, until in RANGES[:4]:
                    args = (scope, filters, metric, since, until, currency)
                    want = embedded.filtered_cells(*args, detail=detail)
                    got = warehouse.filtered_cells(*args, detail=detail)
                    _same(got, want, (given, metric, scope.provider_ids, since, currency, detail))
                    compared += 1
                    cells += len(want)
                    rollups += rollup and bool(want)
                    rows += not rollup and bool(want)
    # Not vacuous: many cells, read from the rollup and from the rows.
    assert compared == len(FILTER_SETS) * len(READS) * 2 * 4
    assert cells > 1000 and rollups > 50 and rows > 50


def test_the_providers_with_data_and_a_budgets_daily_spend_are_the_embedded_warehouses(
    built: Built, embedded: DuckDBSpendSeries, warehouse: ClickHouseWarehouse
) -> None:
    want = embedded.provider_ids_with_data(DEFAULT_WORKSPACE_ID)
    assert warehouse.provider_ids_with_data(DEFAULT_WORKSPACE_ID) == want
    assert sorted(want) == want == sorted([built.acme, built.euro, built.aws])
    assert warehouse.provider_ids_with_data("ws_nobody") == []
    days = 0
    for provider in (built.acme, built.euro, built.aws, "no-such-provider"):
        for currency in ("USD", "EUR", "XXX"):
            for column in ("BilledCost", "EffectiveCost"):
                for start, end in RANGES:  # [start, end): the one-day range is empty here
                    spend = {
                        "workspace_id": DEFAULT_WORKSPACE_ID,
                        "provider_id": provider,
                        "currency": currency,
                        "cost_column": column,
                        "start": start,
                        "end": end,
                    }
                    wanted = embedded.daily_spend(**spend)
                    got = warehouse.daily_spend(**spend)
                    assert {d: str(v) for d, v in got.items()} == {d: str(v) for d, v in wanted.items()}
                    assert list(got) == sorted(got)
                    days += len(wanted)
    assert days > 50


def test_detection_loads_the_same_series_from_either_warehouse(
    built: Built, embedded: DuckDBSpendSeries, warehouse: ClickHouseWarehouse
) -> None:
    for provider in (built.acme, built.euro, built.aws):
        want = load_provider(embedded, DEFAULT_WORKSPACE_ID, provider, 90, until=date(2026, 8, 1))
        got = load_provider(warehouse, DEFAULT_WORKSPACE_ID, provider, 90, until=date(2026, 8, 1))
        assert want is not None and got is not None
        assert (got.since, got.until, sorted(got.series)) == (want.since, want.until, sorted(want.series))
        for key, daily in want.series.items():
            assert np.array_equal(got.series[key].actual, daily.actual), key
            assert np.array_equal(got.series[key].expected, daily.expected), key
    query = parse_query({"filters": [{"dimension": "tag:env", "op": "present"}]}, max_groups=10)
    view_want, view_got = (
        load_view(embedded, DEFAULT_WORKSPACE_ID, query, 90),
        load_view(warehouse, DEFAULT_WORKSPACE_ID, query, 90),
    )
    assert view_want is not None and view_got is not None
    assert view_got[:2] == view_want[:2]
    _same(view_got[2], view_want[2], "view")


def test_a_sum_beyond_decimal_38_12_is_refused(chdb_path: Path, tmp_path: Path) -> None:
    name = f"x_{uuid.uuid4().hex[:12]}"
    open_client(f"chdb://{chdb_path}").command(f"CREATE DATABASE {name}")
    catalog = open_catalog(Settings(data_dir=tmp_path))
    warehouse = ClickHouseWarehouse(open_client(f"chdb://{chdb_path}?database={name}"), catalog)
    ref = BatchRef("ws_default", "prv_a", "bat_1", 1)
    big = Decimal("90000000000000000000000000")
    warehouse.stage(ref, 0, 0, table([Row(at(1), big), Row(at(1, 5), big), Row(at(2), -big)]))
    warehouse.commit(ref, Replace("append"), at=datetime(2026, 2, 1, tzinfo=UTC))
    scope = Scope("ws_default")
    # Day 1 sums to 1.8e26, beyond the range, however it is read; day 2 alone fits.
    with pytest.raises(WarehouseValueOutOfRange):
        warehouse.daily_cells("ws_default", "prv_a", date(2026, 1, 1), date(2026, 1, 31))
    for detail in (True, False):
        with pytest.raises(WarehouseValueOutOfRange):  # from the rollup
            warehouse.filtered_cells(
                scope, (), "BilledCost", date(2026, 1, 1), date(2026, 1, 2), detail=detail
            )
    tagged = parse_query({"filters": [{"dimension": "tag:team", "op": "present"}]}, max_groups=10).filters
    with pytest.raises(WarehouseValueOutOfRange):  # from the rows
        warehouse.filtered_cells(scope, tagged, "EffectiveCost", date(2026, 1, 1), date(2026, 1, 2))
    with pytest.raises(WarehouseValueOutOfRange):
        warehouse.daily_spend(
            workspace_id="ws_default",
            provider_id="prv_a",
            currency="USD",
            cost_column="BilledCost",
            start=date(2026, 1, 1),
            end=date(2026, 1, 3),
        )
    day_two = warehouse.filtered_cells(scope, tagged, "BilledCost", date(2026, 1, 2), date(2026, 1, 2))
    assert [(c.day, str(c.cost)) for c in day_two] == [
        (date(2026, 1, 2), "-90000000000000000000000000.000000000000")
    ]
    catalog.close()


def test_a_views_cells_come_from_the_rollup_exactly_when_duckdb_reads_its_rollup(
    chdb_path: Path, tmp_path: Path
) -> None:
    name = f"x_{uuid.uuid4().hex[:12]}"
    open_client(f"chdb://{chdb_path}").command(f"CREATE DATABASE {name}")
    catalog = open_catalog(Settings(data_dir=tmp_path))
    warehouse = ClickHouseWarehouse(open_client(f"chdb://{chdb_path}?database={name}"), catalog)
    ref = BatchRef("ws_default", "prv_a", "bat_1", 1)
    warehouse.stage(
        ref, 0, 0, table([Row(at(1), Decimal("1.5")), Row(at(2), Decimal("2"), service="Storage")])
    )
    warehouse.commit(ref, Replace("append"), at=datetime(2026, 2, 1, tzinfo=UTC))
    scope, first, last = Scope("ws_default"), date(2026, 1, 1), date(2026, 1, 31)
    storage = parse_query(
        {"filters": [{"dimension": "ServiceName", "op": "equals", "values": ["Storage"]}]}, max_groups=10
    ).filters
    tagged = parse_query(
        {"filters": [{"dimension": "tag:team", "op": "equals", "values": ["a"]}]}, max_groups=10
    ).filters
    assert len(warehouse.filtered_cells(scope, tagged, "BilledCost", first, last)) == 2
    # Rows deleted under the rollup: what the rollup answers still shows, what the rows answer is gone.
    warehouse._command("DELETE FROM cost_rows WHERE 1")
    got = warehouse.filtered_cells(scope, storage, "BilledCost", first, last, detail=False)
    assert [(c.day, str(c.cost)) for c in got] == [(date(2026, 1, 2), "2.000000000000")]
    assert warehouse.filtered_cells(scope, tagged, "BilledCost", first, last) == []
    assert warehouse.daily_cells("ws_default", "prv_a", first, last) == []
    catalog.close()
