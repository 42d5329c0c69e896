"""GET /api/v1/savings on the FOCUS 1.3 specification's commitment discount examples.

Each example file (tests/cases/spec-examples-1.3) is stored as it is, in USD, and the utilisation, unused
commitment cost, coverage and savings must be what the specification's appendix describes for it.
"""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.storage import Catalog, Warehouse
from tests.analytics.conftest import read_headers
from tests.focusapi.loader import commit_rows

EXAMPLES = Path(__file__).resolve().parents[1] / "cases" / "spec-examples-1.3"
DECIMALS = {
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ListUnitPrice",
    "ConsumedQuantity",
    "PricingQuantity",
    "CommitmentDiscountQuantity",
}
TIMES = {"BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"}
RENAMED = {"SkuPriceid": "SkuPriceId"}  # the example's spelling


def _value(name: str, text: str) -> Any:
    if text in ("", "null"):
        return None
    if name in DECIMALS:
        return Decimal(text)
    if name in TIMES:
        try:
            return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:  # an example's "2023-02-01T30:00:00Z" end; no figure here reads it
            return None
    return text


def load_example(path: Path) -> list[dict[str, Any]]:
    """The example's rows with FOCUS names and typed values, in USD; x_ columns into x_columns."""
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            if not any(raw.values()):
                continue
            row: dict[str, Any] = {"BillingCurrency": "USD"}
            custom = {}
            for name, text in raw.items():
                if name.startswith("x_"):
                    custom[name] = text
                else:
                    row[RENAMED.get(name, name)] = _value(name, text)
            row["x_columns"] = str(custom).replace("'", '"') if custom else None
            rows.append(row)
    return rows


# file -> (utilisation, used cost, unused commitment cost, coverage) as the spec describes them
CASES = {
    "commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv": (
        "1.000000",
        "1",
        "0",
        "1.000000",
    ),
    "commitment_discount_scenarios/commitment_discount_usage_scenario_2.csv": ("0.000000", "0", "1", None),
    "commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv": (
        "0.750000",
        "0.75",
        "0.25",
        "1.000000",
    ),
    "commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv": (
        "1.000000",
        "1",
        "0",
        "0.666667",
    ),
    "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility"
    "_with_1_resource.csv": ("1.000000", "0.5", "0", "0.181818"),
    "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility"
    "_with_2_resources.csv": ("1.000000", "2", "0", "1.000000"),
    "commitment_discount_flexibility/one_hundred_percent_utilization_without_commitment_discount_flexibility"
    ".csv": ("1.000000", "1.5", "0", "1.000000"),
    "commitment_discount_flexibility/zero_percent_utilization_without_commitment_discount_flexibility.csv": (
        "0.000000",
        "0",
        "1.5",
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_spec_examples_give_the_utilisation_and_unused_cost_the_spec_describes(
    name: str, client: TestClient, catalog: Catalog, warehouse: Warehouse
) -> None:
    commit_rows(warehouse, load_example(EXAMPLES / name))
    response = client.get("/api/v1/savings", headers=read_headers(catalog))
    assert response.status_code == 200, response.text
    body = response.json()
    utilization, used, unused, coverage = CASES[name]
    [commitment] = body["commitments"]
    assert commitment["commitmentDiscountId"] == "<my-commitment-discount-id>"
    assert commitment["utilization"] == utilization
    assert commitment["usedCost"] == used and commitment["unusedCost"] == unused
    [usd] = body["totals"]
    assert usd["currency"] == "USD"
    assert usd["utilization"] == utilization
    assert usd["unusedCommitmentCost"] == unused
    assert usd["coverage"] == coverage


def test_flexibility_example_savings_reconcile(
    client: TestClient, catalog: Catalog, warehouse: Warehouse
) -> None:
    # One normalised hour of commitment covers a third of a large VM; the rest runs on demand (2.25).
    name = (
        "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility"
        "_with_1_resource.csv"
    )
    commit_rows(warehouse, load_example(EXAMPLES / name))
    body = client.get("/api/v1/savings", headers=read_headers(catalog)).json()
    [usd] = body["totals"]
    # Purchase row left out; committed usage: List 3.00, Contracted missing -> Effective 0.50; on demand 2.25.
    assert (usd["listCost"], usd["contractedCost"], usd["effectiveCost"]) == ("5.25", "2.75", "2.75")
    assert (
        usd["negotiatedSavings"] == "2.5" and usd["commitmentSavings"] == "0" and usd["totalSavings"] == "2.5"
    )
    assert usd["effectiveSavingsRate"] == "0.476190"
    assert usd["commitmentPurchaseCost"] == "0.5"
    assert usd["missingPrices"]["rowsWithoutContractedCost"] == 2
    assert usd["missingPrices"]["shareOfRowsWithoutContractedCost"] == "1.000000"
    assert usd["missingPrices"]["rowsWithoutListCost"] == 0
    [commitment] = body["commitments"]
    assert commitment["savingsVsList"] == "2.5" and commitment["purchaseCost"] == "0.5"
    assert commitment["quantityUtilization"] == "1.000000" and commitment["category"] == "Usage"


@pytest.mark.parametrize(
    ("name", "purchase"),
    [
        ("commitment_discount_purchase_scenario_1.csv", "8760"),
        ("commitment_discount_purchase_scenario_2.csv", "3"),
        ("commitment_discount_purchase_scenario_3.csv", "4381.5"),
    ],
)
def test_purchase_examples_count_the_purchase_once(
    name: str, purchase: str, client: TestClient, catalog: Catalog, warehouse: Warehouse
) -> None:
    commit_rows(warehouse, load_example(EXAMPLES / "commitment_discount_scenarios" / name))
    body = client.get("/api/v1/savings", headers=read_headers(catalog)).json()
    [usd] = body["totals"]
    assert usd["commitmentPurchaseCost"] == purchase
    assert usd["rows"] == 0 and usd["totalSavings"] == "0" and usd["utilization"] is None
    [commitment] = body["commitments"]
    assert commitment["purchaseCost"] == purchase and commitment["utilization"] is None


def test_contract_commitment_rows_are_joined(
    client: TestClient, catalog: Catalog, warehouse: Warehouse
) -> None:
    commit_rows(
        warehouse,
        load_example(EXAMPLES / "commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv"),
    )
    commit_rows(
        warehouse,
        [
            {
                "ContractCommitmentId": "<my-commitment-discount-id>",
                "ContractId": "contract-1",
                "BillingCurrency": "USD",
                "ContractCommitmentCost": Decimal("8760.00"),
                "ContractCommitmentQuantity": Decimal("8760"),
                "ContractCommitmentUnit": "USD",
                "ContractCommitmentCategory": "Spend",
                "ContractCommitmentPeriodStart": datetime(2023, 1, 1),
                "ContractCommitmentPeriodEnd": datetime(2024, 1, 1),
            }
        ],
        dataset="ContractCommitment",
    )
    body = client.get("/api/v1/savings", headers=read_headers(catalog)).json()
    joined = body["commitments"][0]["contractCommitment"]
    assert joined["contractId"] == "contract-1" and joined["cost"].startswith("8760")
    assert joined["periodEnd"] == "2024-01-01T00:00:00Z"


def test_savings_scope_and_errors(client: TestClient, catalog: Catalog, warehouse: Warehouse) -> None:
    rows = load_example(EXAMPLES / "commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv")
    commit_rows(warehouse, rows, provider_id="prv_other")
    assert client.get("/api/v1/savings", headers=read_headers(catalog, ["prv_mine"])).json()["totals"] == []
    headers = read_headers(catalog)
    assert len(client.get("/api/v1/savings", headers=headers).json()["totals"]) == 1
    window = client.get(
        "/api/v1/savings", params={"start": "2023-01-02", "end": "2023-01-01"}, headers=headers
    )
    assert window.status_code == 400 and window.json()["code"] == "invalid_query"
    assert window.json()["details"] == "end"
    bad = client.get("/api/v1/savings", params={"start": "yesterday"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"
