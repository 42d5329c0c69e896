"""Budget CSV import in Vantage's format: Budget Name, Parent Budget and one column per YYYY-MM month."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.notify.conftest import make_provider

VANTAGE = (
    "Budget Name,Parent Budget,2026-11,2026-12,2027-01\n"
    'Compute,,100,"1,200.50",\n'
    "Team A,Compute,50.25,60,70\n"
)


def upload(client: TestClient, headers: dict[str, str], text: str, **params: Any) -> Any:
    return client.post(
        "/api/v1/budgets/import",
        content=text.encode(),
        params=params,
        headers={**headers, "Content-Type": "text/csv"},
    )


def budgets(client: TestClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {b["name"]: b for b in client.get("/api/v1/budgets", headers=headers).json()["budgets"]}


def test_vantage_file_imports(client: TestClient, admin_headers: dict[str, str]) -> None:
    provider_id, _ = make_provider(client, admin_headers)
    response = upload(client, admin_headers, VANTAGE, providerId=provider_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(b["name"] for b in body["created"]) == ["Compute", "Team A"]
    assert body["updated"] == [] and body["monthsSet"] == 5 and body["ignoredColumns"] == ["Parent Budget"]
    stored = budgets(client, admin_headers)
    assert stored["Compute"]["amounts"] == {"2026-11": "100", "2026-12": "1200.50"}
    assert stored["Team A"]["amounts"] == {"2026-11": "50.25", "2026-12": "60", "2027-01": "70"}
    assert stored["Compute"]["scope"] == {"kind": "provider", "id": provider_id}
    assert stored["Compute"]["currency"] == "USD"  # the provider's default currency

    again = upload(client, admin_headers, VANTAGE, providerId=provider_id)
    assert again.status_code == 422 and again.json()["code"] == "budget_import_invalid"
    assert {e["row"] for e in again.json()["errors"]} == {2, 3}
    changed = VANTAGE.replace("Team A,Compute,50.25,60,70", "Team A,Compute,,65,")
    over = upload(client, admin_headers, changed, providerId=provider_id, overwrite="true")
    assert over.status_code == 200 and sorted(b["name"] for b in over.json()["updated"]) == [
        "Compute",
        "Team A",
    ]
    assert budgets(client, admin_headers)["Team A"]["amounts"] == {
        "2026-11": "50.25",
        "2026-12": "65",
        "2027-01": "70",
    }


def test_provider_and_currency_columns(client: TestClient, admin_headers: dict[str, str]) -> None:
    provider_id, _ = make_provider(client, admin_headers, name="Acme Cloud")
    text = f"Budget Name,Provider,Currency,2026-11\nEU,Acme Cloud,EUR,10\nUS,{provider_id},,20\n"
    response = upload(client, admin_headers, text)
    assert response.status_code == 200, response.text
    stored = budgets(client, admin_headers)
    assert (stored["EU"]["currency"], stored["EU"]["scope"]["id"]) == ("EUR", provider_id)
    assert (stored["US"]["currency"], stored["US"]["amounts"]) == ("USD", {"2026-11": "20"})


def test_bad_files_store_nothing(client: TestClient, admin_headers: dict[str, str]) -> None:
    provider_id, _ = make_provider(client, admin_headers)
    cases = [
        ("2026-10,2026-11\n1,1\n", None, None),
        ("Budget Name,,2026-11\nA,,1\n", None, None),
        ("Budget Name,2026-11,2026-11\nA,1,2\n", None, None),
        ("Budget Name,Owner\nA,bob\n", None, None),
        ("Budget Name,2026-11\nA,abc\n", 2, "2026-11"),
        ("Budget Name,2026-11\nA,-5\n", 2, "2026-11"),
        ("Budget Name,2026-11\nA,1\nA,2\n", 3, "Budget Name"),
        ("Budget Name,2026-11\nA,1,9\n", 2, None),
        ("Team,2026-11\nA,x\n", 2, "2026-11"),
        ("Budget Name,Currency,2026-11\nA,ZZZ,1\n", 2, "Currency"),
        ("Budget Name,Provider,2026-11\nA,prv_unknown,1\n", 2, "Provider"),
        ("", None, None),
    ]
    for text, row, column in cases:
        response = upload(client, admin_headers, text, providerId=provider_id)
        assert response.status_code == 422, (text, response.text)
        assert response.json()["code"] == "budget_import_invalid"
        if row is not None:
            assert {"row": row, "column": column} == {
                k: response.json()["errors"][0][k] for k in ("row", "column")
            }
        assert isinstance(json.loads(response.json()["details"]), list)
    missing_provider = upload(client, admin_headers, "Budget Name,2026-11\nA,1\n")
    assert (
        missing_provider.status_code == 422 and missing_provider.json()["errors"][0]["column"] == "Provider"
    )
    too_big = upload(
        client, admin_headers, "Budget Name,2026-11\n" + "A,1\n" * 300_000, providerId=provider_id
    )
    assert too_big.status_code == 413 and too_big.json()["code"] == "payload_too_large"
    assert budgets(client, admin_headers) == {}


def test_vantage_hierarchical_example_imports_its_leaves(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    # Vantage's documented hierarchical example, as written there (parent rows with fewer cells).
    text = (
        "Budget Name,Parent Budget,2024-10,2024-11,2024-12\n"
        "Engineering Org,,,\n"
        "Development Dept,Engineering Org,,,\n"
        "Infrastructure Dept,Engineering Org,,,\n"
        "Frontend Redesign,Development Dept,30000,35000,\n"
        "Backend Refactor,Development Dept,40000,,50000\n"
        "New Cloud Environment,Infrastructure Dept,60000,,\n"
        "Cost Optimization Task,Infrastructure Dept,,30000,40000\n"
    )
    provider_id, _ = make_provider(client, admin_headers)
    response = upload(client, admin_headers, text, providerId=provider_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["skipped"] == ["Engineering Org", "Development Dept", "Infrastructure Dept"]
    assert sorted(b["name"] for b in body["created"]) == [
        "Backend Refactor",
        "Cost Optimization Task",
        "Frontend Redesign",
        "New Cloud Environment",
    ]
    stored = budgets(client, admin_headers)
    assert stored["Backend Refactor"]["amounts"] == {"2024-10": "40000", "2024-12": "50000"}
    # The standard example, with a first column headed otherwise and a trailing empty cell.
    standard = "Team,2024-01,2024-02,2024-03\nTeam 1,50000.00,51000.00,52000.00,\nTeam 3,45000,50000,\n"
    assert upload(client, admin_headers, standard, providerId=provider_id).status_code == 200
    assert budgets(client, admin_headers)["Team 3"]["amounts"] == {"2024-01": "45000", "2024-02": "50000"}


def test_view_column_makes_view_budgets(client: TestClient, admin_headers: dict[str, str]) -> None:
    provider_id, _ = make_provider(client, admin_headers)
    query = {"filters": [{"dimension": "ServiceName", "op": "equals", "values": ["Compute"]}]}
    view = client.post(
        "/api/v1/views", json={"name": "Compute", "query": query}, headers=admin_headers
    ).json()
    text = (
        "Budget Name,View,Currency,2026-11\n"
        "By name,Compute,EUR,100\n"
        f"By id,{view['id']},,200\n"
        "On the provider,,,300\n"
    )
    response = upload(client, admin_headers, text, providerId=provider_id, currency="USD")
    assert response.status_code == 200, response.text
    stored = budgets(client, admin_headers)
    assert stored["By name"]["scope"] == {"kind": "view", "id": view["id"]}
    assert stored["By name"]["currency"] == "EUR"
    assert stored["By id"]["scope"] == {"kind": "view", "id": view["id"]}
    assert stored["By id"]["currency"] == "USD"
    assert stored["On the provider"]["scope"] == {"kind": "provider", "id": provider_id}

    bad = (
        "Budget Name,Provider,View,2026-11\n"
        "No currency,,Compute,1\n"
        f"Both,{provider_id},Compute,1\n"
        "Unknown,,Storage,1\n"
    )
    refused = upload(client, admin_headers, bad)
    assert refused.status_code == 422 and refused.json()["code"] == "budget_import_invalid"
    errors = refused.json()["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(2, "Currency"), (3, "View"), (4, "View")]
    assert "Storage" in errors[2]["message"]
    assert set(budgets(client, admin_headers)) == {"By name", "By id", "On the provider"}
