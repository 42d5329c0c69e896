"""The served OpenAPI document: FastAPI's for our own endpoints, the seed FOCUS document for /focus/v1.

The /focus/v1 part is the seed document (package data, unchanged) with a list of named corrections applied
where the seed contradicts FOCUS 1.3 or does not describe what the server returns. docs/api.md lists every
correction; tests/focusapi/test_openapi.py fails on any difference from the seed that no correction explains.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, cast

import yaml
from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from focusbase.focus import Column, Dataset, columns
from focusbase.query.records import SERVED_VERSION
from focusbase.query.schema import descriptions, served_nullable
from focusbase.query.tokens import MAX_TOKEN_LENGTH, TOKEN_PATTERN
from focusbase.validate.column_rules import KEY_VALUE_COLUMNS

PREFIX = "/focus/v1"
SEED_FILE = "seed/focus-cost-and-usage-openapi.yml"
Doc = dict[str, Any]

_OPERATIONS = ("/cost-and-usage", "/contract-commitments", "/schema")
_EXPORT_OPERATIONS = ("/cost-and-usage/export", "/cost-and-usage/export/{jobId}")
_JSON_TYPES = {"String": "string", "Decimal": "number", "Date/Time": "string", "JSON": "object"}


@cache
def _seed_text() -> str:
    return resources.files("focusbase.api").joinpath(SEED_FILE).read_text(encoding="utf-8")


def load_seed() -> Doc:
    """A fresh copy of the seed FOCUS Cost and Usage API document."""
    doc: Doc = yaml.safe_load(_seed_text())
    return doc


def _schemas(doc: Doc) -> dict[str, Any]:
    schemas: dict[str, Any] = doc["components"]["schemas"]
    return schemas


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


# --- conventions every operation follows (FOCUS and our own, including routes added later) ----------------

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyAuth": []}]
STANDARD_ERRORS: dict[str, str] = {
    "400": "Invalid request: a parameter or the body fails validation (the Error body names it).",
    "401": "No API key, or an unknown, revoked or malformed one (any credential presented must be valid).",
    "403": "The key lacks the scope this operation needs, or is limited to other providers.",
    "404": "No such resource in the key's workspace.",
    "429": "The key's rate limit is used up; retry after Retry-After seconds.",
    "500": "An unexpected error; the log line with the response's X-Request-Id has the cause.",
}


def error_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with the Error body (descriptions keyed `s409=...`)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        text = descriptions.get(f"s{status}") or STANDARD_ERRORS.get(
            str(status), "An error (the Error body)."
        )
        out[status] = _error_response(text)
    return out


def document_errors(operation: dict[str, Any], path: str, *, authenticated: bool, rate_limited: bool) -> None:
    """Give an operation every error status it can answer, each with the Error body.

    Any operation can fail (500); one with parameters or a body can be invalid (400); one behind an API key
    can be unauthenticated or forbidden (401, 403) and states its security; one with path parameters can
    name a missing resource (404); a rate-limited one can be refused (429). Statuses a route declares
    itself (409, 413, ...) keep their description and gain the Error body when they lack content.
    """
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = ["500"]
    if operation.get("parameters") or "requestBody" in operation:
        statuses.append("400")
    if authenticated:
        statuses += ["401", "403"]
        operation["security"] = copy.deepcopy(SECURITY)
    if "{" in path:
        statuses.append("404")
    if rate_limited:
        statuses.append("429")
    for status in statuses:
        responses.setdefault(status, _error_response(STANDARD_ERRORS[status]))
    for status, response in responses.items():
        if status[:1] in ("4", "5") and "content" not in response and "$ref" not in response:
            response["content"] = _error_response("")["content"]


def _property_for(col: Column) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": _JSON_TYPES[col.data_type]}
    if col.data_type == "Date/Time":
        prop["format"] = "date-time"
    if col.allowed_values and col.name != "ServiceSubcategory":
        prop["enum"] = list(col.allowed_values)
    if served_nullable(col):
        _allow_null(prop)
    prop["description"] = descriptions()[col.name]
    return prop


def _allow_null(prop: dict[str, Any]) -> None:
    """Let a property be null the OpenAPI 3.1 way: a type array with null (and null among its enum)."""
    if isinstance(prop.get("type"), str):
        prop["type"] = [prop["type"], "null"]
    if "enum" in prop and None not in prop["enum"]:
        prop["enum"] = [*prop["enum"], None]


# --- the corrections, in the order they apply -------------------------------------------------------------


def _pricing_category_values(doc: Doc) -> None:
    cols = columns(SERVED_VERSION, Dataset.COST_AND_USAGE)
    prop = _schemas(doc)["CostAndUsageRecord"]["properties"]["PricingCategory"]
    prop["enum"] = [*cols["PricingCategory"].allowed_values, *([None] if None in prop["enum"] else [])]


def _capacity_reservation_wording(doc: Doc) -> None:
    prop = _schemas(doc)["CostAndUsageRecord"]["properties"]["CapacityReservationId"]
    prop["description"] = prop["description"].replace(
        "Introduced in FOCUS v1.3.", "Introduced in FOCUS v1.1."
    )


def _focus_nullability(doc: Doc) -> None:
    cols = columns(SERVED_VERSION, Dataset.COST_AND_USAGE)
    for name, prop in _schemas(doc)["CostAndUsageRecord"]["properties"].items():
        col = cols.get(name)
        if col is not None and served_nullable(col):
            _allow_null(prop)


def _focus_13_columns(doc: Doc) -> None:
    props = _schemas(doc)["CostAndUsageRecord"]["properties"]
    for name, col in columns(SERVED_VERSION, Dataset.COST_AND_USAGE).items():
        if name not in props:
            props[name] = _property_for(col)


def _key_value_format(doc: Doc) -> None:
    props = _schemas(doc)["CostAndUsageRecord"]["properties"]
    for name in KEY_VALUE_COLUMNS:
        if name in props:
            # FOCUS KeyValueFormat: values are strings, numbers, booleans or null, never objects or arrays.
            props[name]["additionalProperties"] = {"type": ["string", "number", "boolean", "null"]}


def _contract_commitment_columns(doc: Doc) -> None:
    record = _schemas(doc)["ContractCommitmentRecord"]
    cols = columns(SERVED_VERSION, Dataset.CONTRACT_COMMITMENT)
    record["properties"] = {name: _property_for(col) for name, col in sorted(cols.items())}
    record["required"] = sorted(cols)
    params = doc["paths"]["/contract-commitments"]["get"]["parameters"]
    for param in params:
        if param["name"] == "commitmentDiscountId":
            param["description"] = "Filter by ContractCommitmentId (exact, case-sensitive)."
        elif param["name"] == "billingAccountId":
            param["description"] = (
                "Filter by the row's x_BillingAccountId custom column (FOCUS 1.3's Contract Commitment"
                " dataset has no billing account column); exact, case-sensitive."
            )


def _page_token_form(doc: Doc) -> None:
    for path in ("/cost-and-usage", "/contract-commitments"):
        for param in doc["paths"][path]["get"]["parameters"]:
            if param["name"] == "pageToken":
                param["schema"].update(page_token_schema())
                param["description"] = PAGE_TOKEN_DESCRIPTION


PAGE_TOKEN_DESCRIPTION = (
    "Token for retrieving the next page of results: the nextPageToken of the previous response, unchanged,"
    " with the same filters. Any other value is 400 invalid_page_token."
)


def page_token_schema() -> dict[str, Any]:
    """The documented form of a signed page token."""
    return {"type": "string", "pattern": TOKEN_PATTERN, "maxLength": MAX_TOKEN_LENGTH}


def _contract_commitment_freshness(doc: Doc) -> None:
    props = _schemas(doc)["ContractCommitmentResponse"]["properties"]
    props["dataLastUpdated"] = {
        "type": "string",
        "format": "date-time",
        "description": "When the last commit touching the contract commitments in scope happened.",
    }


def _schema_parameters(doc: Doc) -> None:
    operation = doc["paths"]["/schema"]["get"]
    operation["parameters"] = [
        {
            "name": "focusVersion",
            "in": "query",
            "description": "The FOCUS version whose columns to describe (default 1.3).",
            "required": False,
            "schema": {"type": "string", "enum": ["1.0", "1.1", "1.2", "1.3"], "default": "1.3"},
        },
        {
            "name": "dataset",
            "in": "query",
            "description": "The dataset whose columns to describe (default CostAndUsage).",
            "required": False,
            "schema": {"type": "string", "enum": [d.value for d in Dataset], "default": "CostAndUsage"},
        },
    ]
    operation["responses"]["400"] = _error_response("Invalid request parameters.")


def _auth_and_rate_limit_responses(doc: Doc) -> None:
    for path in (*_OPERATIONS, *_EXPORT_OPERATIONS):
        for operation in doc["paths"][path].values():
            responses = operation["responses"]
            responses.setdefault("401", _error_response("Authentication required."))
            responses.setdefault(
                "403", _error_response("The key lacks the read scope (ingest keys are refused).")
            )
            responses.setdefault("429", _error_response("Rate limit exceeded."))


def _error_responses(doc: Doc) -> None:
    for path, item in doc["paths"].items():
        for operation in item.values():
            document_errors(operation, path, authenticated=True, rate_limited=True)


def _security_per_operation(doc: Doc) -> None:
    security = doc.pop("security")
    for item in doc["paths"].values():
        for operation in item.values():
            operation["security"] = copy.deepcopy(security)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _export_extensions(doc: Doc) -> None:
    # The export routes' own description of their extensions (focusVersion, compression, filters, progress).
    from focusbase.api.exports import openapi_extensions

    openapi_extensions(doc)


def _nullable_type_arrays(doc: Doc) -> None:
    for node in list(_walk(doc)):
        if node.get("nullable") is True and "type" in node:
            del node["nullable"]
            _allow_null(node)


@dataclass(frozen=True, slots=True)
class Correction:
    """One deliberate difference from the seed document; `id` is listed in docs/api.md."""

    id: str
    summary: str
    apply: Callable[[Doc], None]


CORRECTIONS: tuple[Correction, ...] = (
    Correction(
        "export-extensions",
        "ExportRequest also takes focusVersion, compression and the list endpoint's filters, and rejects"
        " unknown properties; ExportJobResponse also reports progress, record counts, file facts and expiry.",
        _export_extensions,
    ),
    Correction(
        "openapi-3.1-nullable",
        "`nullable: true` (an OpenAPI 3.0 keyword) becomes a JSON Schema type array with null, as OpenAPI 3.1"
        " requires; enums of nullable properties include null.",
        _nullable_type_arrays,
    ),
    Correction(
        "pricing-category-values",
        "PricingCategory values are FOCUS 1.0+'s Standard, Dynamic, Committed, Other.",
        _pricing_category_values,
    ),
    Correction(
        "capacity-reservation-wording",
        "CapacityReservationId was introduced in FOCUS 1.1, not 1.3.",
        _capacity_reservation_wording,
    ),
    Correction(
        "focus-nullability",
        "Columns that FOCUS 1.3 lets be null or absent (BillingAccountName, ChargeDescription,"
        " ChargeFrequency) are nullable.",
        _focus_nullability,
    ),
    Correction(
        "focus-1.3-columns",
        "CostAndUsageRecord also carries the FOCUS 1.3 columns the seed lacks (RegionId, RegionName, ...).",
        _focus_13_columns,
    ),
    Correction(
        "key-value-format",
        "Tags (and the FOCUS 1.3 KeyValueFormat columns SkuPriceDetails and AllocatedTags) hold string,"
        " number, boolean or null values, as FOCUS KeyValueFormat allows; the seed allows strings only.",
        _key_value_format,
    ),
    Correction(
        "contract-commitment-columns",
        "ContractCommitmentRecord carries the FOCUS 1.3 Contract Commitment columns; filters map onto them.",
        _contract_commitment_columns,
    ),
    Correction(
        "contract-commitment-freshness",
        "ContractCommitmentResponse documents dataLastUpdated, as CostAndUsageResponse does.",
        _contract_commitment_freshness,
    ),
    Correction(
        "page-token-form",
        "pageToken documents the form of the tokens the server issues (base64url payload, a dot, a base64url"
        " signature; at most 512 characters) and that any other value is 400 invalid_page_token.",
        _page_token_form,
    ),
    Correction(
        "schema-parameters",
        "GET /schema takes focusVersion (1.0-1.3) and dataset, and answers 400 to invalid values.",
        _schema_parameters,
    ),
    Correction(
        "auth-and-rate-limit-responses",
        "Every FOCUS operation documents the 401, 403 and 429 responses it can return.",
        _auth_and_rate_limit_responses,
    ),
    Correction(
        "security-per-operation",
        "The seed's global security requirement is stated on each FOCUS operation (the served document also"
        " describes endpoints with other authentication).",
        _security_per_operation,
    ),
    Correction(
        "error-responses",
        "Every FOCUS operation documents every error status it can answer with the Error body: 400 where it"
        " takes parameters or a body, 404 for a job id, and 500.",
        _error_responses,
    ),
)


def corrected_seed(corrections: tuple[Correction, ...] = CORRECTIONS) -> Doc:
    """The seed document with `corrections` applied (all of them by default)."""
    doc = load_seed()
    for correction in corrections:
        correction.apply(doc)
    return doc


@cache
def focus_part() -> Doc:
    """The corrected seed's paths (prefixed with /focus/v1), components and tags."""
    doc = corrected_seed()
    return {
        "paths": {PREFIX + path: item for path, item in doc["paths"].items()},
        "components": doc["components"],
        "tags": doc["tags"],
    }


def build_document(app: FastAPI) -> Doc:
    """The whole served document: FastAPI's description of our routes, with the FOCUS part replaced."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    _document_route_errors(app, doc)
    focus = copy.deepcopy(focus_part())
    paths: dict[str, Any] = doc.setdefault("paths", {})
    for path in [p for p in paths if p in focus["paths"]]:
        del paths[path]
    paths.update(focus["paths"])
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {}).update(focus["components"]["schemas"])
    components.setdefault("securitySchemes", {}).update(focus["components"]["securitySchemes"])
    doc["tags"] = [*doc.get("tags", []), *focus["tags"]]
    _validation_errors_are_400(doc, set(focus["paths"]))
    return doc


def _dependency_calls(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependency_calls(sub)


def _document_route_errors(app: FastAPI, doc: Doc) -> None:
    # Read each route's dependencies: authentication and rate limiting decide its security and statuses.
    from focusbase.api.deps import authenticate
    from focusbase.api.ratelimit import is_rate_limit

    # FastAPI includes routers lazily: its own route contexts carry each route's prefix and dependencies.
    for context in routing.iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        route = cast("routing._APIRouteLike", context)
        if not route.include_in_schema:
            continue
        calls = list(_dependency_calls(route.dependant))
        item = doc.get("paths", {}).get(route.path_format, {})
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is not None:
                document_errors(
                    operation,
                    route.path_format,
                    authenticated=authenticate in calls,
                    rate_limited=any(is_rate_limit(call) for call in calls),
                )


def _validation_errors_are_400(doc: Doc, focus_paths: set[str]) -> None:
    # FastAPI documents 422 for request validation errors; our error handler answers 400 with the envelope.
    for path, item in doc["paths"].items():
        if path in focus_paths:
            continue
        for operation in item.values():
            responses = operation.get("responses", {})
            # Only FastAPI's own 422 (request validation); a 422 a route documents itself stays.
            if "HTTPValidationError" in str(responses.get("422", "")):
                responses.pop("422")
                responses.setdefault("400", _error_response("Invalid request parameters or body."))
    schemas = doc.get("components", {}).get("schemas", {})
    text = str(doc["paths"])
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas and f"#/components/schemas/{name}" not in text:
            del schemas[name]


def install(app: FastAPI) -> None:
    """Serve build_document(app) at /openapi.json (and so at /docs)."""

    def openapi() -> Doc:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
