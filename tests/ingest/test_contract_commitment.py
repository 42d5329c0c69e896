"""Contract Commitment push: "dataset": "ContractCommitment" in the envelope, replace_all or append."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from tests.ingest.conftest import Provider, commitment, envelope


def push(client: TestClient, provider: Provider, rows: list[dict[str, Any]], **params: Any) -> Any:
    return client.post(
        f"/api/v1/public/ingest/focus/{provider.id}",
        content=envelope(rows, dataset="ContractCommitment"),
        params=params,
        headers=provider.headers,
    )


def test_commitments_replace_all_by_default(client: TestClient, provider: Provider, query: Any) -> None:
    first = push(client, provider, [commitment("c1", "1000"), commitment("c2", "250.50", x_Owner="finance")])
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["lineItemsCreated"] == 2
    assert body["sums"] == {"USD": {"rows": 2, "ContractCommitmentCost": "1250.5"}}
    stored = query(
        'SELECT "ContractCommitmentId", "ContractCommitmentCost", "BillingCurrency", x_columns '
        "FROM live_contract_commitment_rows ORDER BY 1"
    )
    assert stored[0][:3] == ("c1", Decimal("1000"), "USD")
    assert stored[1][3] == '{"x_Owner":"finance"}'
    second = push(client, provider, [commitment("c3", "5")])
    assert second.json()["replaced"]["rows"] == 2
    assert query('SELECT "ContractCommitmentId" FROM live_contract_commitment_rows') == [("c3",)]
    batch = client.get(f"/api/v1/batches/{second.json()['batchId']}", headers=provider.headers).json()
    assert (batch["dataset"], batch["mode"]) == ("ContractCommitment", "replace_all")
    # Cost and Usage rows are a different dataset: untouched.
    assert query("SELECT count(*) FROM cost_rows") == [(0,)]


def test_commitments_append_and_modes(client: TestClient, provider: Provider, query: Any) -> None:
    push(client, provider, [commitment("c1", "1")])
    assert push(client, provider, [commitment("c2", "2")], mode="append").status_code == 200
    assert query("SELECT count(*) FROM live_contract_commitment_rows") == [(2,)]
    refused = push(client, provider, [commitment("c3", "3")], mode="replace_days")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_mode"


def test_invalid_commitments_are_rejected(client: TestClient, provider: Provider, query: Any) -> None:
    response = push(client, provider, [commitment("c1", "1", ContractCommitmentCategory="Cheese")])
    assert response.status_code == 422
    assert response.json()["errors"][0]["column"] == "ContractCommitmentCategory"
    missing = push(client, provider, [{"ContractCommitmentCost": Decimal("1")}])
    assert missing.status_code == 422
    assert query("SELECT count(*) FROM contract_commitment_rows") == [(0,)]
