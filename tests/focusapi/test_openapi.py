"""The served OpenAPI document: its /focus/v1 part is the seed except for the documented corrections."""

from __future__ import annotations

import copy
import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from focusbase.api.openapi import CORRECTIONS, PREFIX, SEED_FILE, corrected_seed
from focusbase.focus import Dataset, columns

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# The packaged seed is the FOCUS Cost and Usage API document exactly as received.
SEED_SHA256 = "87da36d77132f9659c3c4f535691623de948349f9c2588724b6237ca64678d55"


def _seed() -> dict[str, Any]:
    text = resources.files("focusbase.api").joinpath(SEED_FILE).read_text(encoding="utf-8")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


def _focus_view(doc: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The parts of a document the seed defines: its paths (under `prefix`), schemas, schemes, security."""
    seed = _seed()
    paths = doc.get("paths", {})
    schemas = doc.get("components", {}).get("schemas", {})
    return {
        "paths": {p: paths.get(prefix + p) for p in seed["paths"]},
        "schemas": {name: schemas.get(name) for name in seed["components"]["schemas"]},
        "securitySchemes": doc.get("components", {}).get("securitySchemes", {}),
        "security": doc.get("security"),
        "tags": [t for t in doc.get("tags", []) if t["name"] in {s["name"] for s in seed["tags"]}],
    }


def _diff(a: Any, b: Any, pointer: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in a.keys() | b.keys():
            out |= _diff(a.get(key, _MISSING), b.get(key, _MISSING), f"{pointer}/{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = set()
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out |= _diff(x, y, f"{pointer}/{i}")
        return out
    return set() if a == b else {pointer}


_MISSING = object()


def _related(a: str, b: str) -> bool:
    """Same pointer, or one inside the other (a correction that lengthens a list changes the whole list)."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _explained() -> dict[str, set[str]]:
    """Each correction's id -> the pointers (in the seed's coordinates) it changes."""
    doc = _seed()
    out = {}
    for correction in CORRECTIONS:
        before = copy.deepcopy(doc)
        correction.apply(doc)
        out[correction.id] = _diff(_focus_view(before, ""), _focus_view(doc, ""))
    return out


def test_packaged_seed_is_the_seed_document() -> None:
    text = resources.files("focusbase.api").joinpath(SEED_FILE).read_bytes()
    assert hashlib.sha256(text).hexdigest() == SEED_SHA256


def test_served_document_differs_from_the_seed_only_by_documented_corrections(client: TestClient) -> None:
    served = client.get("/openapi.json").json()
    assert served["openapi"].startswith("3.1")
    seed_view = _focus_view(_seed(), "")
    served_view = _focus_view(served, PREFIX)
    differences = _diff(seed_view, served_view)
    explained = _explained()
    every = set().union(*explained.values())
    unexplained = {d for d in differences if not any(_related(d, c) for c in every)}
    assert unexplained == set(), sorted(unexplained)[:20]
    for correction_id, pointers in explained.items():
        assert pointers, f"correction {correction_id} changes nothing"
        assert any(_related(d, c) for d in differences for c in pointers), f"{correction_id} is not applied"
    # and exactly: the served FOCUS part is the seed with every correction applied, nothing else
    assert served_view == _focus_view(corrected_seed(), "")
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
            found.extend(k for k in node if k == "nullable")
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
