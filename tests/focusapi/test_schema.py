"""GET /focus/v1/schema: a ColumnDefinition for every column served, per FOCUS version."""

from __future__ import annotations

from fastapi.testclient import TestClient

from focusbase import __version__
from focusbase.focus import VERSIONS, Dataset, columns
from focusbase.query.records import contract_commitment_fields, cost_fields
from focusbase.storage import Catalog
from tests.focusapi.conftest import Loaded, read_headers

SEED_ENUMS = {
    "dataType": {"String", "Number", "DateTime", "JSON"},
    "requirement": {"Must", "Recommended", "Optional"},
    "category": {"Dimension", "Metric"},
}


def test_schema_describes_every_served_property(client: TestClient, catalog: Catalog, loaded: Loaded) -> None:
    headers = read_headers(catalog)
    body = client.get("/focus/v1/schema", headers=headers).json()
    assert body["focusVersion"] == "1.3"
    assert body["dataGeneratorName"] == "focusbase" and body["dataGeneratorVersion"] == __version__
    assert body["datasets"] == ["CostAndUsage", "ContractCommitment"]
    defs = {c["columnName"]: c for c in body["columns"]}
    record = client.get("/focus/v1/cost-and-usage", params={"pageSize": 10000}, headers=headers).json()[
        "data"
    ]
    served = {name for r in record for name in r}
    assert served == set(defs)  # every property served is described, and nothing else
    assert {f.prop for f in cost_fields()} <= set(defs)
    for definition in body["columns"]:
        for field, allowed in SEED_ENUMS.items():
            assert definition[field] in allowed
        assert isinstance(definition["nullable"], bool) and len(definition["description"]) > 20
    assert defs["BilledCost"] == {
        "columnName": "BilledCost",
        "dataType": "Number",
        "requirement": "Must",
        "nullable": False,
        "description": defs["BilledCost"]["description"],
        "category": "Metric",
    }
    assert defs["ChargePeriodStart"]["dataType"] == "DateTime" and defs["Tags"]["dataType"] == "JSON"
    assert defs["ChargeFrequency"]["requirement"] == "Recommended" and defs["ChargeFrequency"]["nullable"]
    assert defs["RegionId"]["requirement"] == "Optional"  # Conditional in FOCUS
    assert defs["Region"]["dataType"] == "String" and defs["x_Owner"]["requirement"] == "Optional"


def test_schema_for_older_versions_and_the_commitment_dataset(client: TestClient, catalog: Catalog) -> None:
    headers = read_headers(catalog)
    for version in VERSIONS:
        body = client.get("/focus/v1/schema", params={"focusVersion": version}, headers=headers).json()
        names = {c["columnName"] for c in body["columns"]}
        expected = set(columns(version, Dataset.COST_AND_USAGE))
        if version == "1.3":
            expected |= {f.prop for f in cost_fields()}
        assert names == expected, version
        assert body["focusVersion"] == version
    v10 = client.get("/focus/v1/schema", params={"focusVersion": "1.0"}, headers=headers).json()
    assert v10["datasets"] == ["CostAndUsage"] and "ServiceSubcategory" not in {
        c["columnName"] for c in v10["columns"]
    }
    cc = client.get("/focus/v1/schema", params={"dataset": "ContractCommitment"}, headers=headers).json()
    assert {c["columnName"] for c in cc["columns"]} == {f.prop for f in contract_commitment_fields()}
    old_cc = client.get(
        "/focus/v1/schema", params={"dataset": "ContractCommitment", "focusVersion": "1.2"}, headers=headers
    )
    assert old_cc.status_code == 200 and old_cc.json()["columns"] == []
    for params in ({"focusVersion": "2.0"}, {"focusVersion": "1.3.0"}, {"dataset": "Invoices"}):
        bad = client.get("/focus/v1/schema", params=params, headers=headers)
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_parameter"
