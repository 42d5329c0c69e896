"""The conventions every operation of /openapi.json follows, whichever router defines it."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from focusbase.api.deps import require_scope
from focusbase.api.openapi import SECURITY, build_document
from focusbase.api.ratelimit import rate_limit
from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.tenancy.principal import Principal

ERROR = {"$ref": "#/components/schemas/Error"}
Reader = Annotated[Principal, Depends(require_scope("read"))]


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in doc["paths"].items() for m, op in item.items()]


def test_every_operation_documents_its_errors_with_the_error_body(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for method, path, op in _operations(doc):
        responses = op["responses"]
        assert "500" in responses, (method, path)
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"]["application/json"]["schema"] == ERROR, (method, path, status)
        if op.get("parameters") or "requestBody" in op:
            assert "400" in responses, (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if op.get("security"):
            assert op["security"] == SECURITY and {"401", "403"} <= set(responses), (method, path)


def test_authenticated_and_rate_limited_routes_are_recognised(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    ops = {f"{m} {p}": op for m, p, op in _operations(doc)}
    assert "security" not in ops["GET /healthz"]
    assert "security" not in ops["GET /focus/v1/cost-and-usage/export/{jobId}/download"]  # signed link
    assert ops["GET /api/v1/keys"]["security"] == SECURITY
    assert "429" in ops["POST /api/v1/public/ingest/focus/{connection_id}"]["responses"]
    assert "429" not in ops["GET /api/v1/keys"]["responses"]  # management is not rate limited
    assert {"403", "410"} <= set(ops["GET /focus/v1/cost-and-usage/export/{jobId}/download"]["responses"])


def test_a_route_added_later_gets_the_conventions_without_per_route_work(tmp_path: Any) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data", secret_key="k"))
    router = APIRouter(dependencies=[Depends(rate_limit("read"))])

    @router.get("/api/v1/later/{thing_id}")
    def later(thing_id: str, principal: Reader) -> dict[str, str]:
        """A route written after the conventions."""
        return {"id": thing_id}

    app.include_router(router)
    op = build_document(app)["paths"]["/api/v1/later/{thing_id}"]["get"]
    assert op["security"] == SECURITY
    assert {"400", "401", "403", "404", "429", "500"} <= set(op["responses"])
    assert all(
        op["responses"][s]["content"]["application/json"]["schema"] == ERROR for s in ("401", "429", "500")
    )


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/keys", {"GET", "POST"}),
        ("/api/v1/providers/prv_x", {"GET", "PATCH", "DELETE"}),
        ("/api/v1/providers/prv_x/mapping", {"GET", "PUT", "DELETE"}),
    ],
)
def test_405_lists_every_method_of_the_path(client: TestClient, path: str, allowed: set[str]) -> None:
    response = client.request("OPTIONS", path)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) - {"HEAD"} == allowed


def test_download_with_a_non_ascii_signature_is_403(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.get(
        "/focus/v1/cost-and-usage/export/exp_x/download", params={"expires": "1", "signature": "\u00ffO"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_signature"


def test_tags_accept_every_key_value_format_type(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    props = doc["components"]["schemas"]["CostAndUsageRecord"]["properties"]
    for name in ("Tags", "SkuPriceDetails", "AllocatedTags"):
        assert props[name]["additionalProperties"] == {"type": ["string", "number", "boolean", "null"]}
