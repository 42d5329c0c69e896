"""The served OpenAPI document: its /focus/v1 part is the seed except for the documented corrections."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from focusbase.api.openapi import CORRECTIONS, PREFIX, SEED_FILE, corrected_seed
from focusbase.focus import Dataset, columns
from tests.focusapi.seeddiff import diff, explained, focus_view, related, seed_document

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# The packaged seed is the FOCUS Cost and Usage API document exactly as received.
SEED_SHA256 = "87da36d77132f9659c3c4f535691623de948349f9c2588724b6237ca64678d55"


def test_packaged_seed_is_the_seed_document() -> None:
    text = resources.files("focusbase.api").joinpath(SEED_FILE).read_bytes()
    assert hashlib.sha256(text).hexdigest() == SEED_SHA256


def test_served_document_differs_from_the_seed_only_by_documented_corrections(client: TestClient) -> None:
    served = client.get("/openapi.json").json()
    assert served["openapi"].startswith("3.1")
    seed_view = focus_view(seed_document(), "")
    served_view = focus_view(served, PREFIX)
    differences = diff(seed_view, served_view)
    by_correction = explained()
    every = set().union(*by_correction.values())
    unexplained = {d for d in differences if not any(related(d, c) for c in every)}
    assert unexplained == set(), sorted(unexplained)[:20]
    for correction_id, pointers in by_correction.items():
        assert pointers, f"correction {correction_id} changes nothing"
        assert any(related(d, c) for d in differences for c in pointers), f"{correction_id} is not applied"
    # and exactly: the served FOCUS part is the seed with every correction applied, nothing else
    assert served_view == focus_view(corrected_seed(), "")
    documented = DOCS.read_text(encoding="utf-8")
    for correction in CORRECTIONS:
        assert f"`{correction.id}`" in documented, f"{correction.id} is not listed in docs/api.md"


def test_corrections_follow_focus_13(client: TestClient) -> None:
    served = client.get("/openapi.json").json()
    schemas = served["components"]["schemas"]
    record = schemas["CostAndUsageRecord"]["properties"]
    cols = columns("1.3", Dataset.COST_AND_USAGE)
    assert record["PricingCategory"]["enum"] == [*cols["PricingCategory"].allowed_values, None]
    assert set(cols) <= set(record)  # every FOCUS 1.3 column is documented
    assert record["ChargeFrequency"]["type"] == ["string", "null"]
    assert "1.1" in record["CapacityReservationId"]["description"]
    commitment = schemas["ContractCommitmentRecord"]["properties"]
    assert set(commitment) == set(columns("1.3", Dataset.CONTRACT_COMMITMENT))

    def walk(node: Any) -> list[Any]:
        found = []
        if isinstance(node, dict):
            found.extend(k for k, v in node.items() if k == "nullable" and isinstance(v, bool))
            for v in node.values():
                found.extend(walk(v))
        elif isinstance(node, list):
            for v in node:
                found.extend(walk(v))
        return found

    assert walk(served) == []  # OpenAPI 3.1: no 3.0 `nullable` keyword anywhere
    for path in ("/cost-and-usage", "/contract-commitments", "/schema"):
        responses = served["paths"][PREFIX + path]["get"]["responses"]
        assert {"200", "401", "403", "429"} <= set(responses)
        assert served["paths"][PREFIX + path]["get"]["security"] == [{"bearerAuth": []}, {"apiKeyAuth": []}]


def test_interactive_docs_are_served(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()
