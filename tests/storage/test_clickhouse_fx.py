"""Currency rates and conversion on the ClickHouse warehouse answer what the embedded warehouse answers.

A data directory is built through the API: three providers in USD, EUR and GBP with amounts of 12 decimals
(half-way cases of the rounding to 12 decimals among them), rates with 10 decimals uploaded as CSV for some
days and not others, a second workspace with other rates for the same pairs (uploaded twice: the second set
replaces the first), and a third whose rates push a product to DuckDB's DECIMAL(38, 22) limit. Every
conversion query of a grid is answered by `DuckDBExplorerReads` over that directory and by the ClickHouse
warehouse after `focusbase migrate-storage`: cells, totals, missing rates and errors must be equal. The rates
themselves are listed alike by `DuckDBFxRates` and the ClickHouse warehouse, and a reader never sees half of
a replace.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from focusbase.analytics.model import parse_query
from focusbase.cli import _register, app
from focusbase.config import Settings
from focusbase.query.filters import Scope
from focusbase.storage import Warehouse, open_catalog
from focusbase.storage.analytics import ValueOutOfRange
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.storage.cost_rows import Replace
from focusbase.storage.explorer_reads import DuckDBExplorerReads
from focusbase.storage.fx_rates import DuckDBFxRates, FxRates, Rate
from focusbase.tenancy.keys import create_key
from focusbase.tenancy.workspaces import ensure_workspace
from tests.ingest.conftest import Provider, row
from tests.storage.sources import api_source
from tests.storage.test_clickhouse_explorer import same_exploration

pytest.importorskip("psycopg")
pytest.importorskip("clickhouse_connect")
pytest.importorskip("chdb")

from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_client import open_client
from focusbase.storage.clickhouse_types import BatchRef
from focusbase.storage.postgres import PostgresCatalog
from tests.storage.test_clickhouse_warehouse import Row, at, table

DEFAULT_RATES = """date,from,to,rate
2026-06-01,EUR,USD,0.5
2026-06-02,EUR,USD,1.0834567891
2026-06-03,EUR,USD,1.0000000001
2026-06-04,EUR,USD,0.0000000001
2026-06-01,GBP,USD,1.2650000005
2026-06-02,GBP,USD,1.25
2026-05-30,USD,EUR,0.9230769231
2026-06-01,USD,EUR,0.5
2026-06-02,USD,EUR,0.9999999999
2026-06-08,USD,EUR,1.5
2026-06-01,GBP,EUR,1.1666666667
2026-06-02,EUR,GBP,0.5
2026-06-03,EUR,GBP,0.8571428571
1999-01-01,USD,EUR,1.0000000000
"""
# The second workspace: its first upload is replaced by its second.
OTHER_RATES = (
    "date,from,to,rate\n2026-06-01,EUR,USD,7\n2026-06-02,EUR,USD,7\n",
    "date,from,to,rate\n2026-06-01,EUR,USD,2\n2026-06-03,EUR,USD,3.3333333333\n",
)
# The third: 1 x 9999999999999999.9999999999 still fits DuckDB's DECIMAL(38, 22) product; 2 x 5e15 does not.
BIG_RATES = (
    "date,from,to,rate\n2026-06-01,EUR,USD,9999999999999999.9999999999\n2026-06-02,EUR,USD,5000000000000000\n"
)


class Built:
    """The data directory, its workspaces and providers."""

    def __init__(self, data_dir: Path, other: str, big: str, dollar: str, euro: str) -> None:
        self.data_dir = data_dir
        self.other = other
        self.big = big
        self.dollar = dollar
        self.euro = euro


def _put_rates(client: Any, key: str, text: str) -> None:
    response = client.put(
        "/api/v1/fx-rates",
        content=text.encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    data_dir = tmp_path_factory.mktemp("fx") / "data"
    with api_source(data_dir) as source:
        client, push = source.client, source.push
        dollar = source.provider("Dollar Cloud", "USD")
        euro = source.provider("Euro Cloud", "EUR")
        pound = source.provider("Pound Cloud", "GBP")
        push(
            dollar,
            [
                row("2026-05-30", "10.123456789012", Tags={"env": "prod"}, ListCost=Decimal("11")),
                row("2026-06-01", "0.000000000001", ServiceName="Storage", ResourceId="r-1"),
                row("2026-06-01", "-0.000000000003", Tags={"env": "test"}, ResourceId="r-2"),
                row("2026-06-02", "12345678.123456789012", RegionId="eu-west-1"),
                row("2026-06-03", "4", ServiceName="Network"),  # no USD->EUR rate that day
                row("2026-06-08", "0.000000000001", Tags={"env": "prod"}),
                row("2026-07-01", "2.5"),
            ],
        )
        push(
            euro,
            [
                row(f"2026-06-0{d}", cost, BillingCurrency="EUR", ServiceName=service, Tags={"env": env})
                for d, cost, service, env in (
                    (1, "0.000000000001", "Compute", "prod"),  # x 0.5: half-way, rounds away from zero
                    (1, "-0.000000000003", "Storage", "test"),
                    (2, "0.000000000003", "Compute", "prod"),
                    (2, "99999.999999999999", "Storage", "prod"),
                    (3, "1234.567890123456", "Compute", "test"),
                    (4, "987654321.000000000001", "Network", "prod"),
                    (5, "3", "Compute", "prod"),  # no EUR rate at all that day
                )
            ],
        )
        push(
            pound,
            [
                row("2026-06-01", "7.777777777777", BillingCurrency="GBP", ListCost=Decimal("8")),
                row("2026-06-02", "-2.000000000001", BillingCurrency="GBP"),
                row("2026-06-10", "5", BillingCurrency="GBP"),  # no rate
            ],
        )
        _put_rates(client, source.admin, DEFAULT_RATES)
        other = ensure_workspace(source.catalog, "other").id
        other_admin = create_key(source.catalog, workspace_id=other, name="other", scopes=["admin"]).key
        other_euro = Provider(client, {"Authorization": f"Bearer {other_admin}"}, "Other Euro", "EUR")
        push(other_euro, [row(f"2026-06-0{d}", "1.000000000001", BillingCurrency="EUR") for d in (1, 2, 3)])
        for rates in OTHER_RATES:
            _put_rates(client, other_admin, rates)
        big = ensure_workspace(source.catalog, "big").id
        big_admin = create_key(source.catalog, workspace_id=big, name="big", scopes=["admin"]).key
        big_euro = Provider(client, {"Authorization": f"Bearer {big_admin}"}, "Big Euro", "EUR")
        push(big_euro, [row(f"2026-06-0{d}", str(d), BillingCurrency="EUR") for d in (1, 2)])
        _put_rates(client, big_admin, BIG_RATES)
    return Built(data_dir, other, big, dollar.id, euro.id)


@pytest.fixture
def warehouse(built: Built, tmp_path: Path, postgres_url: str, chdb_path: Path) -> ClickHouseWarehouse:
    _register()
    source = tmp_path / "data"
    shutil.copytree(built.data_dir, source)
    warehouse_url = f"chdb://{chdb_path}?database=f_{uuid.uuid4().hex[:12]}"
    args = ["migrate-storage", "--data-dir", str(source), "--catalog-url", postgres_url]
    result = CliRunner().invoke(app, [*args, "--warehouse-url", warehouse_url])
    assert result.exit_code == 0, result.output
    assert "FX rates: 3 workspaces copied (18 rates), 0 already copied" in result.output
    return ClickHouseWarehouse(open_client(warehouse_url), PostgresCatalog(postgres_url, pool_size=1))


def _grid() -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    for currency in ("USD", "EUR", "GBP", "CHF"):  # CHF: no rate to it at all
        for metric in ("BilledCost", "ListCost"):
            for grain in ("day", "week", "month", "none"):
                bodies.append({"metric": metric, "grain": grain, "currency": currency})
        for grouping in (["ServiceName"], ["provider"], ["tag:env"], ["ResourceId"]):
            bodies.append({"grain": "day", "groupBy": grouping, "currency": currency})
    for sort in ("value_desc", "value_asc", "group"):
        for top in (None, 1):
            body: dict[str, Any] = {
                "grain": "month",
                "groupBy": ["ServiceName"],
                "currency": "USD",
                "sort": sort,
            }
            bodies.append({**body, **({"top": top} if top else {})})
    bodies += [
        {"metric": "EffectiveCost", "grain": "week", "groupBy": ["provider", "tag:env"], "currency": "EUR"},
        {"grain": "day", "currency": "USD", "start": "2026-06-02", "end": "2026-06-04"},
        {
            "grain": "day",
            "currency": "USD",
            "filters": [{"dimension": "tag:env", "op": "equals", "values": ["prod"]}],
        },
        {
            "grain": "none",
            "currency": "EUR",
            "filters": [{"dimension": "ServiceName", "op": "in", "values": ["Storage"]}],
        },
        {"grain": "month", "currency": "USD", "start": "2027-01-01"},  # nothing matches
    ]
    return bodies


def test_every_conversion_of_the_grid_answers_the_embedded_warehouses_cells(
    built: Built, warehouse: ClickHouseWarehouse
) -> None:
    scopes = [
        Scope(DEFAULT_WORKSPACE_ID),
        Scope(DEFAULT_WORKSPACE_ID, frozenset({built.euro})),
        Scope(built.other),  # the same pairs at other rates: each workspace converts with its own
    ]
    embedded = Warehouse.in_dir(built.data_dir)
    try:
        duck = DuckDBExplorerReads(embedded)
        compared = cells = rollups = missing = rounded = truncated = 0
        for body in _grid():
            query = parse_query(body, max_groups=1000)
            for scope in scopes:
                for max_rows in (1000, 2):
                    want = duck.explore(scope, query, max_rows=max_rows, timeout_seconds=30)
                    got = warehouse.explore(scope, query, max_rows=max_rows, timeout_seconds=30)
                    same_exploration(got, want, (body, scope, max_rows))
                    compared += 1
                    cells += len(want.aggregate.rows)
                    rollups += want.rollup
                    missing += bool(want.aggregate.missing_rates)
                    truncated += want.aggregate.truncated
                    # A converted figure with a non-zero 12th decimal: the rounding was compared.
                    rounded += any(r.value and r.value[-1] != "0" for r in want.aggregate.rows)
    finally:
        embedded.close()
    # Not vacuous: many cells from both sources, answers with and without missing rates, truncated ones.
    assert compared == len(_grid()) * 6 and cells > 500
    assert 0 < rollups < compared and 0 < missing < compared and truncated > 0 and rounded > 0


def test_converted_figures_round_half_away_from_zero_and_use_each_days_rate(
    built: Built, warehouse: ClickHouseWarehouse
) -> None:
    scope = Scope(DEFAULT_WORKSPACE_ID, frozenset({built.euro}))
    query = parse_query({"grain": "day", "groupBy": ["ServiceName"], "currency": "USD"}, max_groups=10)
    answer = warehouse.explore(scope, query, max_rows=100, timeout_seconds=30).aggregate
    cells = {(r.period, r.group): r.value for r in answer.rows}
    # 0.000000000001 x 0.5 = 0.0000000000005 -> 0.000000000001; -0.000000000003 x 0.5 -> -0.000000000002.
    assert cells[(date(2026, 6, 1), ("Compute",))] == "0.000000000001"
    assert cells[(date(2026, 6, 1), ("Storage",))] == "-0.000000000002"
    # 99999.999999999999 x 1.0834567891 = 108345.6789099999989165432109 (one day, one group).
    assert cells[(date(2026, 6, 2), ("Storage",))] == "108345.678909999999"
    assert answer.missing_rates == [("EUR", date(2026, 6, 5), 1)]
    # The other workspace's second upload replaced its first: 2 on the 1st, none on the 2nd.
    other = warehouse.explore(Scope(built.other), query, max_rows=100, timeout_seconds=30).aggregate
    assert [(r.period, r.value) for r in other.rows] == [
        (date(2026, 6, 1), "2.000000000002"),
        (date(2026, 6, 3), "3.333333333303"),
    ]
    assert other.missing_rates == [("EUR", date(2026, 6, 2), 1)]


def test_a_product_beyond_duckdbs_decimal_38_22_is_refused_by_both(
    built: Built, warehouse: ClickHouseWarehouse
) -> None:
    scope = Scope(built.big)
    embedded = Warehouse.in_dir(built.data_dir)
    try:
        duck = DuckDBExplorerReads(embedded)
        fits = parse_query({"grain": "day", "currency": "USD", "end": "2026-06-02"}, max_groups=10)
        want = duck.explore(scope, fits, max_rows=10, timeout_seconds=30)
        got = warehouse.explore(scope, fits, max_rows=10, timeout_seconds=30)
        same_exploration(got, want, "fits")
        assert [r.value for r in got.aggregate.rows] == ["9999999999999999.999999999900"]
        # 2 x 5e15 = 1e16: DuckDB's product overflows, whichever buckets or limits the answer has.
        for body in ({"grain": "day"}, {"grain": "none"}, {"grain": "month", "start": "2026-06-02"}):
            query = parse_query({**body, "currency": "USD"}, max_groups=10)
            for reads in (duck, warehouse):
                with pytest.raises(ValueOutOfRange):
                    reads.explore(scope, query, max_rows=1, timeout_seconds=30)
    finally:
        embedded.close()


def test_rates_are_listed_as_the_embedded_warehouse_lists_them(
    built: Built, warehouse: ClickHouseWarehouse
) -> None:
    embedded = Warehouse.in_dir(built.data_dir)
    try:
        duck = DuckDBFxRates(embedded)
        for workspace_id in (DEFAULT_WORKSPACE_ID, built.other, built.big, "ws_none"):
            for limit in (0, 1, 5, 10_000):
                assert warehouse.list_rates(workspace_id, limit) == duck.list_rates(workspace_id, limit)
        count, rows, pairs = warehouse.list_rates(DEFAULT_WORKSPACE_ID, 2)
        assert count == 14 and rows[0] == (date(1999, 1, 1), "USD", "EUR", "1.0000000000")
        assert ("EUR", "USD", date(2026, 6, 1), date(2026, 6, 4), 4) in pairs
    finally:
        embedded.close()


# ----------------------------------------------------------------------------- replace, on both warehouses


def _fresh(chdb_path: Path, tmp_path: Path) -> ClickHouseWarehouse:
    name = f"r_{uuid.uuid4().hex[:12]}"
    open_client(f"chdb://{chdb_path}").command(f"CREATE DATABASE {name}")
    catalog = open_catalog(Settings(data_dir=tmp_path))
    return ClickHouseWarehouse(open_client(f"chdb://{chdb_path}?database={name}"), catalog)


def _rates(n: int, rate: str, pair: tuple[str, str] = ("EUR", "USD")) -> list[Rate]:
    return [(date.fromordinal(date(2026, 1, 1).toordinal() + i), *pair, Decimal(rate)) for i in range(n)]


def test_replace_and_list_behave_alike_on_both_warehouses(chdb_path: Path, tmp_path: Path) -> None:
    clickhouse = _fresh(chdb_path, tmp_path)
    embedded = Warehouse.in_dir(tmp_path / "duck")
    try:
        both: list[FxRates] = [DuckDBFxRates(embedded), clickhouse]
        steps: list[tuple[str, list[Rate]]] = [
            ("ws_a", _rates(3, "1.2345678901") + _rates(2, "0.5", ("GBP", "EUR"))),
            ("ws_b", [(date(1, 1, 1), "EUR", "USD", Decimal("9999999999999999999999999999.9999999999"))]),
            ("ws_a", _rates(4, "2")),  # replaces ws_a's five, leaves ws_b's
            ("ws_b", []),  # removes every rate of ws_b
        ]
        for workspace_id, rates in steps:
            assert [fx.replace_rates(workspace_id, rates) for fx in both] == [len(rates)] * 2
            for ws in ("ws_a", "ws_b"):
                for limit in (0, 2, 100):
                    assert clickhouse.list_rates(ws, limit) == both[0].list_rates(ws, limit)
        # A rate beyond DECIMAL(38, 10) is refused by both, and the rates stay as they were.
        for bad in ("1.12345678901", "1" + "0" * 28):
            for fx in both:
                with pytest.raises(ValueError):
                    fx.replace_rates("ws_a", [(date(2026, 1, 1), "EUR", "USD", Decimal(bad))])
                assert fx.list_rates("ws_a", 100)[0] == 4
    finally:
        embedded.close()
        clickhouse.catalog.close()


def test_a_reader_sees_the_whole_old_set_or_the_whole_new_one(chdb_path: Path, tmp_path: Path) -> None:
    warehouse = _fresh(chdb_path, tmp_path)
    warehouse.fx_chunk_rows = 7  # each set takes many inserts before the one row that publishes it
    ref = BatchRef("ws_default", "prv_a", "bat_1", 1)
    warehouse.stage(ref, 0, 0, table([Row(at(d), Decimal("1"), "EUR") for d in range(1, 31)]))
    warehouse.commit(ref, Replace("append"), at=datetime(2026, 2, 1, tzinfo=UTC))
    # Set A converts 20 of the 30 days at 1; set B all 30 at 2. Filler pairs make both sets many inserts.
    sets = {
        "A": _rates(20, "1") + _rates(40, "3", ("GBP", "CHF")),
        "B": _rates(30, "2") + _rates(45, "5", ("JPY", "CHF")),
    }
    listings = {}
    for name, rates in sets.items():
        warehouse.replace_rates("ws_default", rates)
        listings[name] = warehouse.list_rates("ws_default", 1000)
    query = parse_query({"grain": "none", "currency": "USD"}, max_groups=10)
    # The figures and the missing rates are two statements: each sees one whole set, not always the same.
    values, missing = {"20.000000000000", "60.000000000000"}, {10, 0}
    seen: list[str] = []
    failures: list[object] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            listed = warehouse.list_rates("ws_default", 1000)
            matched = [name for name, want in listings.items() if listed == want]
            got = warehouse.explore(Scope("ws_default"), query, max_rows=10, timeout_seconds=30).aggregate
            answer = (got.rows[0].value, sum(n for _, _, n in got.missing_rates))
            if not matched or answer[0] not in values or answer[1] not in missing:
                failures.append((listed[0], answer))
            seen.extend(matched)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(10):
            warehouse.replace_rates("ws_default", sets["AB"[i % 2]])
    finally:
        stop.set()
        reader.join(60)
    assert failures == [] and {"A", "B"} <= set(seen)
    warehouse.catalog.close()


def test_replaced_sets_are_deleted_once_no_reader_can_be_reading_them(
    chdb_path: Path, tmp_path: Path
) -> None:
    warehouse = _fresh(chdb_path, tmp_path)

    def held() -> tuple[int, int]:
        rows = warehouse._query("SELECT count() FROM fx_rates WHERE workspace_id = 'ws_a'")
        sets = warehouse._query("SELECT count() FROM fx_rate_sets WHERE workspace_id = 'ws_a'")
        return int(rows[0][0]), int(sets[0][0])

    for n in (3, 4, 5):
        warehouse.replace_rates("ws_a", _rates(n, "1"))
    assert held() == (12, 3)  # replaced within the hour: kept for readers that picked them
    # An upload that failed before publishing its set, two hours ago, and one under way now.
    for set_id, staged_at in (("failed", "now64(6) - INTERVAL 2 HOUR"), ("under-way", "now64(6)")):
        warehouse._command(
            "INSERT INTO fx_rates SELECT 'ws_a', {s:String}, 1, 'EUR', 'USD', 1, " + staged_at,
            {"s": set_id},
        )
    warehouse.replace_rates("ws_b", _rates(1, "1"))  # another workspace's replace touches none of ws_a's
    assert held() == (14, 3)
    warehouse.replace_rates("ws_a", _rates(6, "1"))
    assert held() == (12 + 1 + 6, 4)  # the failed upload's rate is gone, the one under way stays
    warehouse.fx_keep_seconds = 0
    warehouse.replace_rates("ws_a", _rates(2, "1"))
    assert held() == (2, 1)  # only the newest set: with no time kept, an unpublished rate counts as failed
    assert warehouse.list_rates("ws_a", 10)[0] == 2 and warehouse.list_rates("ws_b", 10)[0] == 1
    warehouse.catalog.close()
