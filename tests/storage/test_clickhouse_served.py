"""The FOCUS API's reads on the ClickHouse warehouse answer what the embedded warehouse's API answers.

A data directory is built through the API (custom x_ columns, tags, the seed's names, a FOCUS sample import,
a replaced and a reverted batch, Contract Commitments with x_BillingAccountId, a provider-scoped key). Each
filter is read page by page from the running server, then from ClickHouse after `focusbase migrate-storage`:
the records (parsed JSON), their count and billing periods must be equal.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from focusbase.cli import _register, app
from focusbase.config import Settings
from focusbase.focus import Dataset
from focusbase.query.filters import Scope
from focusbase.query.params import contract_commitment_filters, cost_filters
from focusbase.query.records import contract_commitment_fields, cost_fields
from focusbase.query.service import list_contract_commitments, list_cost_records
from focusbase.storage import Warehouse, open_catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.storage.cost_rows import Replace
from focusbase.tenancy.keys import create_key
from tests.ingest.conftest import commitment, envelope, row
from tests.storage.sources import api_source

pytest.importorskip("psycopg")
pytest.importorskip("clickhouse_connect")
pytest.importorskip("chdb")

from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_client import open_client
from focusbase.storage.clickhouse_served import (
    contract_commitment_where,
    cost_where,
    finish_record,
)
from focusbase.storage.clickhouse_types import BatchRef
from focusbase.storage.postgres import PostgresCatalog
from focusbase.storage.query import Field
from focusbase.storage.served import DuckDBServedRecords, ServedRecords
from tests.storage.test_clickhouse_warehouse import Row, at, table

COST_QUERIES: list[dict[str, str]] = [
    {},
    {"serviceName": "Compute"},
    {"billingCurrency": "EUR"},
    {"chargeCategory": "Usage", "region": "eu-west-1"},
    {"billingPeriodStart": "2026-06-01T00:00:00Z", "billingPeriodEnd": "2026-07-01T00:00:00Z"},
    {"billingPeriodStart": "2026-07-01T00:00:00Z"},
    {"billingPeriodStart": "2026-06-01T00:00:00Z", "billingPeriodEnd": "2026-06-01T00:00:00Z"},  # empty
    {"providerName": "Euro Cloud"},
    {"billingPeriodStart": "0001-01-01T00:00:00Z", "billingPeriodEnd": "9999-12-31T23:59:59Z"},
    {"serviceName": "no such service"},
]
COMMITMENT_QUERIES: list[dict[str, str]] = [
    {},
    {"commitmentDiscountId": "c2"},
    {"billingAccountId": "acct-1"},
    {"billingAccountId": "acct-9"},
]


class Expected:
    """What the embedded server answered, per (key, dataset, query): records, totalRecords."""

    def __init__(self, data_dir: Path, acme: str) -> None:
        self.data_dir = data_dir
        self.acme = acme
        self.answers: dict[tuple[str, str, str], tuple[list[dict[str, Any]], int]] = {}


def _all_pages(client: TestClient, path: str, headers: dict[str, str], query: dict[str, str]) -> Any:
    records: list[dict[str, Any]] = []
    token = None
    total = None
    while True:
        params = {**query, "pageSize": "3", **({"pageToken": token} if token else {})}
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = orjson.loads(response.content)
        records.extend(body["data"])
        total = body["totalRecords"]
        token = body["nextPageToken"]
        if not token:
            return records, total


def _key(query: dict[str, str]) -> str:
    return orjson.dumps(query, option=orjson.OPT_SORT_KEYS).decode()


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> Expected:
    data_dir = tmp_path_factory.mktemp("served") / "data"
    with api_source(data_dir) as source:
        client, catalog, admin, headers = source.client, source.catalog, source.admin, source.headers
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
                    x_SplitCostAllocationPercentage=Decimal("12.5"),
                    x_Owner="ops",
                ),
                row("2026-06-02", "20", ContractedCost=Decimal("12345678901234.123456789012"), x_Note='é"q'),
                row("2026-07-03", "-0.000000000001", ServiceName="Storage", RegionId="eu-west-1"),
            ],
        )
        push(acme, [row("2026-06-02", "3", x_SplitCostAllocationMethod="even")])  # replaces 2026-06-02
        reverted = push(acme, [row("2026-07-03", "99")])
        response = client.post(f"/api/v1/batches/{reverted}/revert", headers=headers)
        assert response.status_code == 200, response.text
        push(euro, [row(f"2026-06-{d:02d}", f"{d}.25", BillingCurrency="EUR") for d in (1, 2, 3)])
        source.import_sample(aws)
        commitments = client.post(
            f"/api/v1/public/ingest/focus/{acme.id}",
            content=envelope(
                [
                    commitment("c1", "1000", x_BillingAccountId="acct-1"),
                    commitment("c2", "0.000000000001", x_BillingAccountId="acct-2"),
                    commitment("c3", "2.5", BillingCurrency="EUR"),
                ],
                dataset="ContractCommitment",
            ),
            params={"mode": "replace_all"},
            headers={"Content-Type": "application/json", **acme.headers},
        )
        assert commitments.status_code == 200, commitments.text
        scoped = create_key(
            catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="acme", scopes=["read"], provider_ids=[acme.id]
        ).key
        found = Expected(data_dir, acme.id)
        for who, key in (("admin", admin), ("acme", scoped)):
            key_headers = {"Authorization": f"Bearer {key}"}
            for query in COST_QUERIES:
                found.answers[(who, "cost", _key(query))] = _all_pages(
                    client, "/focus/v1/cost-and-usage", key_headers, query
                )
            for query in COMMITMENT_QUERIES:
                found.answers[(who, "cc", _key(query))] = _all_pages(
                    client, "/focus/v1/contract-commitments", key_headers, query
                )
    return found


@pytest.fixture
def warehouse(expected: Expected, tmp_path: Path, postgres_url: str, chdb_path: Path) -> ClickHouseWarehouse:
    _register()
    source = tmp_path / "data"
    shutil.copytree(expected.data_dir, source)
    warehouse_url = f"chdb://{chdb_path}?database=s_{uuid.uuid4().hex[:12]}"
    args = ["migrate-storage", "--data-dir", str(source), "--catalog-url", postgres_url]
    result = CliRunner().invoke(app, [*args, "--warehouse-url", warehouse_url])
    assert result.exit_code == 0, result.output
    return ClickHouseWarehouse(open_client(warehouse_url), PostgresCatalog(postgres_url, pool_size=1))


def _read_all(
    warehouse: ClickHouseWarehouse, dataset: Dataset, where: Any, fields: tuple[Field, ...]
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    after = 0
    while True:
        page = warehouse.served_page(dataset, where, fields, after=after, page_size=3)
        batch = orjson.loads(page.records_json)
        assert len(batch) == page.count <= 3
        records.extend(batch)
        if not page.has_more:
            return records
        assert page.last_seq is not None and page.last_seq > after
        after = page.last_seq


def _canonical(records: list[dict[str, Any]]) -> list[bytes]:
    return sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in records)


def test_every_filter_serves_the_embedded_servers_records_and_counts(
    expected: Expected, warehouse: ClickHouseWarehouse
) -> None:
    scopes = {
        "admin": Scope(DEFAULT_WORKSPACE_ID),
        "acme": Scope(DEFAULT_WORKSPACE_ID, frozenset({expected.acme})),
    }
    compared = 0
    for (who, dataset, query_text), (want, total) in expected.answers.items():
        query = orjson.loads(query_text)
        if dataset == "cost":
            where = cost_where(cost_filters(scopes[who], query))
            got = _read_all(warehouse, Dataset.COST_AND_USAGE, where, cost_fields())
            summary = warehouse.served_summary(Dataset.COST_AND_USAGE, where)
        else:
            where = contract_commitment_where(contract_commitment_filters(scopes[who], query))
            got = _read_all(warehouse, Dataset.CONTRACT_COMMITMENT, where, contract_commitment_fields())
            summary = warehouse.served_summary(Dataset.CONTRACT_COMMITMENT, where)
        assert _canonical(got) == _canonical(want), (who, dataset, query)
        assert summary.total == total == len(want), (who, dataset, query)
        compared += len(want)
    # The comparison is not vacuous: custom columns, tags, the sample's rows and the scoped key all served.
    everything = expected.answers[("admin", "cost", "{}")][0]
    assert len(everything) > 15 and compared > 60
    assert {"x_Owner", "x_Note"} <= {k for r in everything for k in r}
    assert len(expected.answers[("acme", "cost", "{}")][0]) < len(everything)
    assert len(expected.answers[("admin", "cc", _key({"billingAccountId": "acct-1"}))][0]) == 1


def test_billing_periods_ending_after_a_cutoff_are_listed_once_per_provider(
    expected: Expected, warehouse: ClickHouseWarehouse
) -> None:
    where = cost_where(cost_filters(Scope(DEFAULT_WORKSPACE_ID), {}))
    every = warehouse.served_summary(Dataset.COST_AND_USAGE, where, periods_ending_after=datetime(2000, 1, 1))
    later = warehouse.served_summary(Dataset.COST_AND_USAGE, where, periods_ending_after=datetime(2026, 7, 1))
    assert len({(p.provider_id, p.start) for p in every.periods}) == len(every.periods)
    acme = sorted(p.start for p in every.periods if p.provider_id == expected.acme)
    assert acme == [datetime(2026, 6, 1), datetime(2026, 7, 1)]
    assert all(p.end > datetime(2026, 7, 1) for p in later.periods)
    assert datetime(2026, 7, 1) in {p.start for p in later.periods if p.provider_id == expected.acme}
    assert datetime(2026, 6, 1) not in {p.start for p in later.periods if p.provider_id == expected.acme}


def test_served_custom_columns_are_typed_and_the_others_spliced_in() -> None:
    fields = (
        Field("BilledCost", "BilledCost", "Decimal"),
        Field("x_SplitCostAllocationMethod", "x_SplitCostAllocationMethod", "String"),
        Field("x_SplitCostAllocationPercentage", "x_SplitCostAllocationPercentage", "Decimal"),
    )
    body = '{"BilledCost":100'
    text = finish_record(body, '{"x_SplitCostAllocationPercentage":"12.50","x_Owner":"o\\"ps"}', fields)
    assert text == (
        '{"BilledCost":100,"x_SplitCostAllocationMethod":null,"x_SplitCostAllocationPercentage":12.5,'
        '"x_Owner":"o\\"ps"}'
    )
    rounded = finish_record(body, '{"x_SplitCostAllocationPercentage":"0.0000000000005"}', fields)
    assert orjson.loads(rounded)["x_SplitCostAllocationPercentage"] == 1e-12  # DECIMAL(38, 12), rounded
    not_a_number = finish_record(body, '{"x_SplitCostAllocationPercentage":"n/a"}', fields)
    assert orjson.loads(not_a_number)["x_SplitCostAllocationPercentage"] is None
    assert finish_record(body, None, fields[:1]) == '{"BilledCost":100}'


def test_last_updated_is_the_last_commit_replace_or_revert_that_touched_matching_rows(
    chdb_path: Path, tmp_path: Path
) -> None:
    name = f"u_{uuid.uuid4().hex[:12]}"
    open_client(f"chdb://{chdb_path}").command(f"CREATE DATABASE {name}")
    catalog = open_catalog(Settings(data_dir=tmp_path))
    warehouse = ClickHouseWarehouse(open_client(f"chdb://{chdb_path}?database={name}"), catalog)
    times = [datetime(2026, 2, d, 9, 30) for d in (1, 2, 3, 4)]
    ws = "ws_default"

    def summary(service: str) -> Any:
        return warehouse.served_summary(
            Dataset.COST_AND_USAGE, cost_where(cost_filters(Scope(ws), {"serviceName": service}))
        )

    def push(seq: int, rows: list[Row], replace: Replace, when: datetime) -> BatchRef:
        ref = BatchRef(ws, "prv_a", f"bat_{seq}", seq)
        warehouse.stage(ref, 0, 0, table(rows))
        warehouse.commit(ref, replace, at=when.replace(tzinfo=UTC))
        return ref

    assert summary("Compute").last_updated is None  # nothing committed yet
    push(
        1,
        [Row(at(1), Decimal("1")), Row(at(2), Decimal("2"), service="Storage")],
        Replace("append"),
        times[0],
    )
    push(2, [Row(at(3), Decimal("3"))], Replace("append"), times[1])
    assert (summary("Compute").total, summary("Compute").last_updated) == (2, times[1])
    assert (summary("Storage").total, summary("Storage").last_updated) == (1, times[0])
    # Day 2 replaced by a Compute row: the Storage row is gone, and the replace is its last change.
    replacing = push(3, [Row(at(2, 6), Decimal("5"))], Replace("replace_days"), times[2])
    assert (summary("Storage").total, summary("Storage").last_updated) == (0, times[2])
    warehouse.revert(replacing, at=times[3].replace(tzinfo=UTC))
    assert (summary("Storage").total, summary("Storage").last_updated) == (1, times[3])
    assert (summary("Compute").total, summary("Compute").last_updated) == (2, times[3])
    assert summary("Network").last_updated is None
    # Summaries are cached under the data version: asked again, the same answer without counting again;
    # every write the reads can see, a lightweight delete included, changes the version.
    assert summary("Compute") is summary("Compute")
    before = warehouse.data_version()
    warehouse.delete_provider(ws, "prv_a", datetime.now(UTC))
    tombstoned = warehouse.data_version()
    assert tombstoned != before and (summary("Compute").total, summary("Compute").last_updated) == (0, None)
    assert warehouse.purge_deleted() > 0
    assert warehouse.data_version() != tombstoned
    catalog.close()


def test_the_read_service_walks_clickhouse_pages_with_its_tokens(
    expected: Expected, warehouse: ClickHouseWarehouse, tmp_path: Path
) -> None:
    records: ServedRecords = warehouse
    settings = Settings(data_dir=tmp_path / "any", secret_key="test-secret-key")
    for query in COST_QUERIES:
        want, total = expected.answers[("admin", "cost", _key(query))]
        got: list[dict[str, Any]] = []
        token = None
        while True:
            page = list_cost_records(
                records,
                warehouse.catalog,
                settings,
                cost_filters(Scope(DEFAULT_WORKSPACE_ID), query),
                page_size=4,
                page_token=token,
            )
            got.extend(orjson.loads(page.records_json))
            assert page.total_records == total
            assert (page.data_last_updated is None) == (total == 0)
            token = page.next_page_token
            if token is None:
                break
        assert _canonical(got) == _canonical(want), query
    for query in COMMITMENT_QUERIES:
        want, total = expected.answers[("admin", "cc", _key(query))]
        page = list_contract_commitments(
            records, settings, contract_commitment_filters(Scope(DEFAULT_WORKSPACE_ID), query), page_size=100
        )
        assert page.next_page_token is None and page.total_records == total
        assert _canonical(orjson.loads(page.records_json)) == _canonical(want), query


def test_custom_column_names_are_the_embedded_warehouses(
    expected: Expected, warehouse: ClickHouseWarehouse
) -> None:
    embedded = Warehouse.in_dir(expected.data_dir)
    try:
        duck = DuckDBServedRecords(embedded)
        scopes = [Scope(DEFAULT_WORKSPACE_ID), Scope(DEFAULT_WORKSPACE_ID, frozenset({expected.acme}))]
        for dataset in (Dataset.COST_AND_USAGE, Dataset.CONTRACT_COMMITMENT):
            for scope in scopes:
                names = warehouse.custom_column_names(dataset, scope)
                assert names == duck.custom_column_names(dataset, scope), (dataset, scope)
        every = warehouse.custom_column_names(Dataset.COST_AND_USAGE, scopes[0])
        assert {"x_Owner", "x_Note", "x_SplitCostAllocationMethod"} <= set(every)
        assert warehouse.custom_column_names(Dataset.CONTRACT_COMMITMENT, scopes[1]) == ["x_BillingAccountId"]
    finally:
        embedded.close()
