"""Every combination of the cost-and-usage filters, against a direct DuckDB query on the same rows."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from focusbase.storage import Catalog, Warehouse
from tests.focusapi.conftest import Loaded, read_headers

# query parameter -> (SQL written by hand for the direct query, value)
STRING_FILTERS = {
    "chargeCategory": ('"ChargeCategory" = ?', "Usage"),
    "providerName": ('"ProviderName" = ?', "Acme Cloud"),
    "serviceName": ('"ServiceName" = ?', "Compute Engine"),
    "serviceCategory": ('"ServiceCategory" = ?', "Compute"),
    "region": ('"RegionId" = ?', "us-east1"),
    "resourceId": ('"ResourceId" = ?', "res-1"),
    "subAccountId": ('"SubAccountId" = ?', "sub-a"),
    "billingCurrency": ('"BillingCurrency" = ?', "USD"),
}
WINDOW_FILTERS = {
    "billingPeriodStart": ('"BillingPeriodStart" >= ?', "2025-02-01T00:00:00Z", datetime(2025, 2, 1)),
    "billingPeriodEnd": ('"BillingPeriodStart" < ?', "2025-03-01T00:00:00Z", datetime(2025, 3, 1)),
}
ALL = [*WINDOW_FILTERS, *STRING_FILTERS]


def _direct(warehouse: Warehouse, names: tuple[str, ...]) -> list[str]:
    clauses = ["workspace_id = 'ws_default'", "superseded_by IS NULL"]
    params: list[Any] = []
    for name in names:
        if name in WINDOW_FILTERS:
            sql, _, value = WINDOW_FILTERS[name]
        else:
            sql, value = STRING_FILTERS[name]
        clauses.append(sql)
        params.append(value)
    with warehouse.cursor() as cur:
        rows = cur.execute(
            f'SELECT "ChargeDescription" FROM cost_rows WHERE {" AND ".join(clauses)} ORDER BY row_seq',
            params,
        ).fetchall()
    return [r[0] for r in rows]


def _api(client: TestClient, headers: dict[str, str], names: tuple[str, ...]) -> dict[str, Any]:
    params = {"pageSize": "10000"}
    for name in names:
        params[name] = WINDOW_FILTERS[name][1] if name in WINDOW_FILTERS else STRING_FILTERS[name][1]
    response = client.get("/focus/v1/cost-and-usage", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_filter_combination_matches_duckdb(
    client: TestClient, catalog: Catalog, warehouse: Warehouse, loaded: Loaded
) -> None:
    headers = read_headers(catalog)
    non_empty = 0
    for size in range(len(ALL) + 1):
        for names in itertools.combinations(ALL, size):
            body = _api(client, headers, names)
            expected = _direct(warehouse, names)
            got = [record["ChargeDescription"] for record in body["data"]]
            assert got == expected, names
            assert body["totalRecords"] == len(expected), names
            assert body["nextPageToken"] is None
            non_empty += bool(expected)
    assert non_empty > 200  # the values chosen make most combinations match something


def test_filters_are_exact_and_case_sensitive(client: TestClient, catalog: Catalog, loaded: Loaded) -> None:
    headers = read_headers(catalog)
    upper = client.get(
        "/focus/v1/cost-and-usage", params={"providerName": "Acme Cloud", "pageSize": 10000}, headers=headers
    )
    lower = client.get(
        "/focus/v1/cost-and-usage", params={"providerName": "acme cloud", "pageSize": 10000}, headers=headers
    )
    prefix = client.get(
        "/focus/v1/cost-and-usage", params={"providerName": "Acme", "pageSize": 10000}, headers=headers
    )
    assert {r["ProviderName"] for r in upper.json()["data"]} == {"Acme Cloud"}
    assert {r["ProviderName"] for r in lower.json()["data"]} == {"acme cloud"}
    assert prefix.json()["data"] == [] and prefix.json()["totalRecords"] == 0
    region = client.get(
        "/focus/v1/cost-and-usage", params={"region": "us-east1", "pageSize": 10000}, headers=headers
    )
    assert {(r["RegionId"], r["Region"]) for r in region.json()["data"]} == {("us-east1", "us-east1")}
    by_name = client.get("/focus/v1/cost-and-usage", params={"region": "US-EAST1"}, headers=headers)
    assert by_name.json()["totalRecords"] == 0  # region matches RegionId, not RegionName


def test_window_offsets_are_converted_to_utc(client: TestClient, catalog: Catalog, loaded: Loaded) -> None:
    headers = read_headers(catalog)
    utc = client.get(
        "/focus/v1/cost-and-usage", params={"billingPeriodStart": "2025-02-01T00:00:00Z"}, headers=headers
    )
    # 2025-02-01T02:00+02:00 is the same instant as 2025-02-01T00:00Z
    offset = client.get(
        "/focus/v1/cost-and-usage",
        params={"billingPeriodStart": "2025-02-01T02:00:00+02:00"},
        headers=headers,
    )
    assert utc.json()["totalRecords"] == offset.json()["totalRecords"] > 0
    later = client.get(
        "/focus/v1/cost-and-usage", params={"billingPeriodStart": "2025-02-01T00:00:01Z"}, headers=headers
    )
    assert later.json()["totalRecords"] < utc.json()["totalRecords"]
    empty = client.get(
        "/focus/v1/cost-and-usage",
        params={"billingPeriodStart": "2025-03-01T00:00:00Z", "billingPeriodEnd": "2025-02-01T00:00:00Z"},
        headers=headers,
    )
    assert empty.status_code == 200 and empty.json()["totalRecords"] == 0


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"chargeCategory": "usage"}, "chargeCategory"),
        ({"chargeCategory": "Refund"}, "chargeCategory"),
        ({"billingPeriodStart": "2025-01-01"}, "billingPeriodStart"),
        ({"billingPeriodEnd": "yesterday"}, "billingPeriodEnd"),
        ({"billingPeriodStart": "2025-02-30T00:00:00Z"}, "billingPeriodStart"),
        ({"billingPeriodStart": "2025-01-01T00:00:00"}, "billingPeriodStart"),
        ({"pageSize": "0"}, "pageSize"),
        ({"pageSize": "10001"}, "pageSize"),
        ({"pageSize": "ten"}, "pageSize"),
    ],
)
def test_invalid_parameters_are_400_with_the_error_body(
    client: TestClient, catalog: Catalog, params: dict[str, str], parameter: str
) -> None:
    response = client.get("/focus/v1/cost-and-usage", params=params, headers=read_headers(catalog))
    assert response.status_code == 400
    body = response.json()
    assert set(body) >= {"code", "message", "details"}
    assert parameter in body["message"]


def test_decimals_are_served_exactly_as_stored(
    client: TestClient, catalog: Catalog, warehouse: Warehouse, loaded: Loaded
) -> None:
    headers = read_headers(catalog)
    response = client.get("/focus/v1/cost-and-usage", params={"pageSize": 10000}, headers=headers)
    text = response.text
    assert "0.30000000000000004" not in text
    assert not re.search(r"\d[eE][-+]?\d", text)  # no exponent notation anywhere
    served = {
        r["ChargeDescription"]: (r["BilledCost"], r["ListCost"], r["ConsumedQuantity"])
        for r in orjson.loads(text)["data"]
    }
    exact = {r["ChargeDescription"]: r for r in json.loads(text, parse_float=Decimal)["data"]}
    with warehouse.cursor() as cur:
        stored = cur.execute(
            'SELECT "ChargeDescription", "BilledCost", "ListCost", "ConsumedQuantity" FROM live_cost_rows'
        ).fetchall()
    assert len(stored) == len(served) == 420
    for description, billed, listed, consumed in stored:
        record = exact[description]
        assert Decimal(record["BilledCost"]) == billed
        assert Decimal(record["ListCost"]) == listed
        assert (record["ConsumedQuantity"] is None) == (consumed is None)
        if consumed is not None:
            assert Decimal(record["ConsumedQuantity"]) == consumed
    assert "123456789012345.678901234567" in text  # 27 significant digits survive
    assert '"BilledCost":0.000000000001' in text
    assert '"BilledCost":0.3,' in text


def test_records_carry_seed_and_focus_13_properties(
    client: TestClient, catalog: Catalog, loaded: Loaded
) -> None:
    body = client.get(
        "/focus/v1/cost-and-usage", params={"pageSize": 10000}, headers=read_headers(catalog)
    ).json()
    record = body["data"][0]
    for name in (
        "Region",
        "RegionId",
        "RegionName",
        "ServiceProviderName",
        "HostProviderName",
        "InvoiceId",
        "ContractApplied",
        "AllocatedTags",
        "x_SplitCostAllocationMethod",
        "x_SplitCostAllocationPercentage",
    ):
        assert name in record
    with_custom = [r for r in body["data"] if "x_Owner" in r]
    assert with_custom and all(r["x_SplitCostAllocationPercentage"] == 12.5 for r in with_custom)
    assert all(
        "x_Owner" not in r and r["x_SplitCostAllocationPercentage"] is None
        for r in body["data"]
        if r not in with_custom
    )
    tagged = [r for r in body["data"] if r["Tags"] is not None]
    assert tagged and all(isinstance(r["Tags"], dict) and r["Tags"]["team"] == "t1" for r in tagged)
    stamp = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    assert all(
        stamp.match(r["ChargePeriodStart"]) and stamp.match(r["BillingPeriodEnd"]) for r in body["data"]
    )
    assert stamp.match(body["dataLastUpdated"])
