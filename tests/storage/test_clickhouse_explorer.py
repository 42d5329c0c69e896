"""The Data Explorer's reads on the ClickHouse warehouse answer what the embedded warehouse answers.

A data directory is built through the API (three providers, USD and EUR, tags, x_ columns, rows lacking
ListCost and quantities, a FOCUS sample import, a replaced and a reverted batch). Every query of a grid
(each metric and grain, group-by on columns, the provider, tags and x_ columns, each filter operation, top-N
with Other, each sort, ranges, the rollup and the rows, an admin and a provider-scoped key) is answered by
`DuckDBExplorerReads` over that directory and by the ClickHouse warehouse after `focusbase migrate-storage`:
the cells, totals, group counts, truncation, source and coverage must be equal. Currency conversion is
compared in tests/storage/test_clickhouse_fx.py.
"""

from __future__ import annotations

import shutil
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from focusbase.analytics.explorer import ExplorerError, run_query
from focusbase.analytics.model import ExplorerQuery, parse_query
from focusbase.cli import _register, app
from focusbase.config import Settings
from focusbase.query.filters import Scope
from focusbase.storage import Warehouse, open_catalog
from focusbase.storage.analytics import QueryTimeout, ValueOutOfRange
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog
from focusbase.storage.cost_rows import Replace
from focusbase.storage.explorer_reads import DuckDBExplorerReads, Exploration
from tests.ingest.conftest import row
from tests.storage.sources import api_source

pytest.importorskip("psycopg")
pytest.importorskip("clickhouse_connect")
pytest.importorskip("chdb")

from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_client import open_client
from focusbase.storage.clickhouse_explorer import decimal_text
from focusbase.storage.clickhouse_types import BatchRef
from focusbase.storage.postgres import PostgresCatalog
from tests.storage.test_clickhouse_warehouse import Row, at, table

METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity", "PricingQuantity")
GRAINS = ("day", "week", "month", "none")
GROUPINGS: list[list[str]] = [
    [],
    ["ServiceName"],
    ["provider"],
    ["tag:env"],
    ["x_Owner"],
    ["ServiceName", "RegionId"],
    ["provider", "tag:team"],
    ["ResourceId"],  # not in the rollup: read from the rows
]
FILTERS: list[dict[str, Any]] = [
    {"dimension": "ServiceName", "op": "equals", "values": ["Compute"]},
    {"dimension": "ServiceName", "op": "in", "values": ["Storage", "Compute"]},
    {"dimension": "RegionId", "op": "not_in", "values": ["eu-west-1"]},
    {"dimension": "ServiceName", "op": "contains", "values": ["OMP"]},
    {"dimension": "RegionId", "op": "present"},
    {"dimension": "RegionId", "op": "absent"},
    {"dimension": "provider", "op": "in", "values": ["?"]},  # the Euro provider's id, set per run
    {"dimension": "tag:env", "op": "equals", "values": ["prod"]},
    {"dimension": "tag:env", "op": "not_in", "values": ["prod"]},
    {"dimension": "tag:team", "op": "contains", "values": ["A/"]},
    {"dimension": "tag:n", "op": "equals", "values": ["1"]},
    {"dimension": "tag:env", "op": "absent"},
    {"dimension": "x_Owner", "op": "present"},
    {"dimension": "x_Owner", "op": "in", "values": ["ops", "dev"]},
    {"dimension": "x_Note", "op": "contains", "values": ['É"Q']},
    {"dimension": "x_Owner", "op": "absent"},
]


class Built:
    """The data directory the embedded server wrote, and the ids the grid needs."""

    def __init__(self, data_dir: Path, acme: str, euro: str, aws: str) -> None:
        self.data_dir = data_dir
        self.acme = acme
        self.euro = euro
        self.aws = aws


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    data_dir = tmp_path_factory.mktemp("explorer") / "data"
    with api_source(data_dir) as source:
        client, headers = source.client, source.headers
        acme = source.provider("Acme Cloud", "USD")
        euro = source.provider("Euro Cloud", "EUR")
        aws = source.provider("AWS", "USD")
        push = source.push

        push(
            acme,
            [
                row(
                    "2026-06-01",
                    "10.5",
                    ListCost=Decimal("11"),
                    Tags={"team": "a/b", "env": "prod", "n": 1},
                    RegionId="eu-west-1",
                    x_Owner="ops",
                    ResourceId="r-1",
                ),
                row("2026-06-01", "4", Tags={"team": "c", "env": None}, x_Owner="dev", ResourceId="r-2"),
                row("2026-06-02", "20", ContractedCost=Decimal("12345678901234.123456789012"), x_Note='é"q'),
                row("2026-06-07", "7", ServiceName="Storage", Tags={"env": "test"}, ResourceId="r-1"),
                row("2026-06-08", "7", ServiceName="Network", RegionId="us-east-1", x_Owner="ops"),
                row("2026-07-03", "-0.000000000001", ServiceName="Storage", RegionId="eu-west-1"),
            ],
        )
        push(acme, [row("2026-06-02", "3", x_Note="replaced")])  # replaces 2026-06-02
        reverted = push(acme, [row("2026-07-03", "99")])
        response = client.post(f"/api/v1/batches/{reverted}/revert", headers=headers)
        assert response.status_code == 200, response.text
        push(
            euro,
            [
                row(f"2026-06-{d:02d}", f"{d}.25", BillingCurrency="EUR", Tags={"env": "prod"}, x_Owner="ops")
                for d in (1, 2, 3, 8)
            ],
        )
        source.import_sample(aws)
    return Built(data_dir, acme.id, euro.id, aws.id)


@pytest.fixture
def warehouse(built: Built, tmp_path: Path, postgres_url: str, chdb_path: Path) -> ClickHouseWarehouse:
    _register()
    source = tmp_path / "data"
    shutil.copytree(built.data_dir, source)
    warehouse_url = f"chdb://{chdb_path}?database=e_{uuid.uuid4().hex[:12]}"
    args = ["migrate-storage", "--data-dir", str(source), "--catalog-url", postgres_url]
    result = CliRunner().invoke(app, [*args, "--warehouse-url", warehouse_url])
    assert result.exit_code == 0, result.output
    return ClickHouseWarehouse(open_client(warehouse_url), PostgresCatalog(postgres_url, pool_size=1))


def _grid(built: Built) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    for metric in METRICS:
        for grain in GRAINS:
            bodies.append({"metric": metric, "grain": grain, "groupBy": ["ServiceName"]})
    for grouping in GROUPINGS:
        for sort in ("value_desc", "value_asc", "group"):
            for top in (None, 1):
                body: dict[str, Any] = {"metric": "BilledCost", "grain": "month", "groupBy": grouping}
                bodies.append({**body, "sort": sort, **({"top": top} if top else {})})
    for f in FILTERS:
        if f.get("values") == ["?"]:
            f = {**f, "values": [built.euro, "no-such-provider"]}
        bodies.append({"metric": "EffectiveCost", "grain": "week", "groupBy": ["provider"], "filters": [f]})
        bodies.append({"metric": "ListCost", "grain": "none", "groupBy": ["x_Owner"], "filters": [f]})
    bodies += [
        {"metric": "BilledCost", "grain": "day", "start": "2026-06-02", "end": "2026-06-08"},
        {"metric": "BilledCost", "grain": "week", "start": "0001-01-01", "end": "9999-12-31"},
        {"metric": "PricingQuantity", "grain": "month", "groupBy": ["provider", "ChargeCategory"], "top": 2},
        {"metric": "ConsumedQuantity", "grain": "none", "groupBy": ["tag:env"], "sort": "value_asc"},
        {"metric": "BilledCost", "grain": "day", "groupBy": ["ServiceName", "tag:env", "x_Owner"], "top": 3},
        {"metric": "BilledCost", "grain": "month", "start": "2027-01-01"},  # nothing matches
    ]
    return bodies


def same_exploration(got: Exploration, want: Exploration, label: object) -> None:
    """The same answer from both warehouses: cells, totals, groups, missing rates, coverage."""
    assert got.rollup == want.rollup, label
    assert got.aggregate.rows == want.aggregate.rows, label
    assert got.aggregate.totals == want.aggregate.totals, label
    assert (got.aggregate.groups, got.aggregate.truncated) == (
        want.aggregate.groups,
        want.aggregate.truncated,
    ), label
    assert got.aggregate.missing_rates == want.aggregate.missing_rates, label
    assert got.coverage == want.coverage, label


def test_every_query_of_the_grid_answers_the_embedded_warehouses_cells(
    built: Built, warehouse: ClickHouseWarehouse
) -> None:
    scopes = [Scope(DEFAULT_WORKSPACE_ID), Scope(DEFAULT_WORKSPACE_ID, frozenset({built.acme}))]
    embedded = Warehouse.in_dir(built.data_dir)
    try:
        duck = DuckDBExplorerReads(embedded)
        compared = cells = rollups = nulls = others = 0
        for body in _grid(built):
            query = parse_query(body, max_groups=1000)
            for scope in scopes:
                for max_rows in (1000, 3):
                    want = duck.explore(scope, query, max_rows=max_rows, timeout_seconds=30)
                    got = warehouse.explore(scope, query, max_rows=max_rows, timeout_seconds=30)
                    same_exploration(got, want, (body, scope.provider_ids, max_rows))
                    assert got.aggregate.missing_rates == [], body  # no conversion in this grid
                    compared += 1
                    cells += len(want.aggregate.rows)
                    rollups += want.rollup
                    nulls += any(r.value is None for r in want.aggregate.rows)
                    others += any(r.other for r in want.aggregate.rows)
    finally:
        embedded.close()
    # Not vacuous: many cells, both sources, NULL sums, Other buckets and truncated answers were compared.
    assert compared == len(_grid(built)) * 4 and cells > 1000
    assert 0 < rollups < compared and nulls > 0 and others > 0


def test_sums_are_written_with_every_decimal_place_as_duckdb_writes_them(
    built: Built, warehouse: ClickHouseWarehouse
) -> None:
    # From the rollup, whose summed column holds 0 where no row has a value: the sum is NULL, as DuckDB's.
    query = parse_query({"metric": "ConsumedQuantity", "grain": "none"}, max_groups=10)
    got = warehouse.explore(Scope(DEFAULT_WORKSPACE_ID), query, max_rows=10, timeout_seconds=30)
    assert got.rollup and [(r.value, r.rows) for r in got.aggregate.totals if r.currency == "EUR"] == [
        (None, 4)
    ]
    billed = parse_query({"metric": "BilledCost", "grain": "none", "groupBy": ["ServiceName"]}, max_groups=10)
    acme = Scope(DEFAULT_WORKSPACE_ID, frozenset({built.acme}))
    cells = warehouse.explore(acme, billed, max_rows=10, timeout_seconds=30).aggregate.rows
    assert {r.group: r.value for r in cells}[("Network",)] == "7.000000000000"
    assert (
        decimal_text(Decimal("-1E-12")) == "-0.000000000001"
        and decimal_text(Decimal("-0")) == "0.000000000000"
    )
    with pytest.raises(ValueOutOfRange):
        decimal_text(Decimal(10) ** 26)


def test_last_updates_are_the_commits_copied_and_a_revert_is_not_copied(
    built: Built, warehouse: ClickHouseWarehouse
) -> None:
    scope = Scope(DEFAULT_WORKSPACE_ID)
    query = ExplorerQuery()
    embedded = Warehouse.in_dir(built.data_dir)
    try:
        want = (
            DuckDBExplorerReads(embedded).explore(scope, query, max_rows=10, timeout_seconds=30).last_updates
        )
    finally:
        embedded.close()
    got = warehouse.explore(scope, query, max_rows=10, timeout_seconds=30).last_updates
    assert set(got) == set(want) == {built.acme, built.euro, built.aws}
    # The migration writes each live batch's commit at its time; Acme's last event, a revert, left no rows.
    assert got[built.euro] == want[built.euro] and got[built.aws] == want[built.aws]
    assert got[built.acme] < want[built.acme]
    scoped = warehouse.explore(
        Scope(DEFAULT_WORKSPACE_ID, frozenset({built.euro})), query, max_rows=10, timeout_seconds=30
    )
    assert set(scoped.last_updates) == {built.euro}


def _fresh(chdb_path: Path, tmp_path: Path) -> tuple[ClickHouseWarehouse, Catalog]:
    name = f"x_{uuid.uuid4().hex[:12]}"
    open_client(f"chdb://{chdb_path}").command(f"CREATE DATABASE {name}")
    catalog = open_catalog(Settings(data_dir=tmp_path))
    return ClickHouseWarehouse(open_client(f"chdb://{chdb_path}?database={name}"), catalog), catalog


def test_a_revert_and_a_replace_are_the_last_updates_and_the_explorer_sees_them_at_once(
    chdb_path: Path, tmp_path: Path
) -> None:
    warehouse, catalog = _fresh(chdb_path, tmp_path)
    ws, scope = "ws_default", Scope("ws_default")
    query = parse_query({"metric": "BilledCost", "grain": "day"}, max_groups=10)
    first = BatchRef(ws, "prv_a", "bat_1", 1)
    warehouse.stage(first, 0, 0, table([Row(at(1), Decimal("1")), Row(at(2), Decimal("2"))]))
    warehouse.commit(first, Replace("append"), at=datetime(2026, 2, 1, 9, tzinfo=UTC))
    second = BatchRef(ws, "prv_a", "bat_2", 2)
    warehouse.stage(second, 0, 0, table([Row(at(2), Decimal("5"))]))
    warehouse.commit(second, Replace("replace_days"), at=datetime(2026, 2, 2, 9, tzinfo=UTC))
    answer = warehouse.explore(scope, query, max_rows=10, timeout_seconds=30)
    assert [r.value for r in answer.aggregate.rows] == ["1.000000000000", "5.000000000000"]
    assert answer.last_updates == {"prv_a": datetime(2026, 2, 2, 9)}
    warehouse.revert(second, at=datetime(2026, 2, 3, 9, tzinfo=UTC))
    answer = warehouse.explore(scope, query, max_rows=10, timeout_seconds=30)
    assert [r.value for r in answer.aggregate.rows] == ["1.000000000000", "2.000000000000"]
    assert answer.last_updates == {"prv_a": datetime(2026, 2, 3, 9)}
    catalog.close()


def test_a_sum_beyond_decimal_38_12_is_refused(chdb_path: Path, tmp_path: Path) -> None:
    warehouse, catalog = _fresh(chdb_path, tmp_path)
    ref = BatchRef("ws_default", "prv_a", "bat_1", 1)
    big = Decimal("90000000000000000000000000")
    warehouse.stage(ref, 0, 0, table([Row(at(1), big), Row(at(1, 5), big), Row(at(2), -big)]))
    warehouse.commit(ref, Replace("append"), at=datetime(2026, 2, 1, tzinfo=UTC))
    day = parse_query({"metric": "BilledCost", "grain": "day"}, max_groups=10)
    with pytest.raises(ValueOutOfRange):  # the first day's cell
        warehouse.explore(Scope("ws_default"), day, max_rows=10, timeout_seconds=30)
    # Over the whole range the rows sum to 9e25, which fits: Decimal256 sums never overflow on the way.
    whole = parse_query({"metric": "BilledCost", "grain": "none"}, max_groups=10)
    answer = warehouse.explore(Scope("ws_default"), whole, max_rows=10, timeout_seconds=30)
    assert [r.value for r in answer.aggregate.rows] == ["90000000000000000000000000.000000000000"]
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(ExplorerError) as refused:
        run_query(warehouse, catalog, settings, Scope("ws_default"), day)
    assert (refused.value.status, refused.value.code) == (422, "value_out_of_range")
    catalog.close()


def test_a_query_past_its_time_is_stopped(warehouse: ClickHouseWarehouse, tmp_path: Path) -> None:
    scope = Scope(DEFAULT_WORKSPACE_ID)
    with pytest.raises(QueryTimeout):
        warehouse._timed(
            "SELECT count() FROM numbers(10000000000) WHERE sipHash64(number) % 7 = 1",
            {},
            time.monotonic() + 0.05,
            0.05,
        )
    query = parse_query({"metric": "BilledCost", "groupBy": ["ResourceId"]}, max_groups=10)
    with pytest.raises(QueryTimeout):
        warehouse.explore(scope, query, max_rows=10, timeout_seconds=1e-9)
    settings = Settings(data_dir=tmp_path, explorer_timeout_seconds=1e-9)
    with pytest.raises(ExplorerError) as stopped:
        run_query(warehouse, warehouse.catalog, settings, scope, query)
    assert (stopped.value.status, stopped.value.code) == (503, "query_timeout")
