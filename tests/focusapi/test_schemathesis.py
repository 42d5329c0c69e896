"""schemathesis over every operation of /openapi.json, for each key scope, against the real server.

The served document is the contract. Each run starts from the document the server serves (so operations
added later are covered without touching this file), uses every phase (examples, coverage, fuzzing,
stateful) and every check, and must end with zero failures, for an admin, a read and a provider ingest key:
operations a scope may not use answer 403, which the document states. A fixed seed and bounded examples
keep `make test` to a few minutes; `make fuzz` runs the same test with a random seed and many more examples
(FOCUSBASE_ST_EXAMPLES, FOCUSBASE_ST_SEED).

A check is relaxed only for a named operation and a stated reason (RELAXATIONS below), never globally.
Against the seed document, every failure must be one a documented correction explains.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from focusbase.api.openapi import SEED_FILE
from focusbase.config import Settings
from focusbase.storage import Warehouse, open_catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from focusbase.tenancy.providers import create_provider
from tests.focusapi.loader import commit_rows, make_rows, month
from tests.focusapi.seeddiff import explained, related
from tests.focusapi.test_access import COMMITMENTS

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
SECRET = "schemathesis-test-secret"
EXAMPLES = os.environ.get("FOCUSBASE_ST_EXAMPLES", "10")
SEED = os.environ.get("FOCUSBASE_ST_SEED", "20261203")
PHASES = "examples,coverage,fuzzing,stateful"
RUN_TIMEOUT = int(os.environ.get("FOCUSBASE_ST_TIMEOUT", "600"))


@dataclass(frozen=True)
class Relaxation:
    """One check relaxed for one operation, and why."""

    operation: str  # "METHOD /path" as in /openapi.json
    check: str
    setting: str  # TOML for checks.<check>
    reason: str


def _accepting(*statuses: str) -> str:
    """positive_data_acceptance's default statuses plus these (a documented refusal of valid-looking data)."""
    default = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
    return f"expected-statuses = {json.dumps([*default, *statuses])}"


# Each entry relaxes one check for one operation; the reason says why the check is wrong for us there.
# positive_data_acceptance (ST202) assumes that a request the schema allows must succeed; where the server
# checks what JSON Schema cannot state (a value's membership in a live set, a file's content, a date range
# across fields), the documented 400/422 is the right answer and is allowed for that operation only.
RELAXATIONS: tuple[Relaxation, ...] = (
    *(
        Relaxation(
            operation,
            "positive_data_acceptance",
            _accepting("400"),
            "defaultCurrency must be an ISO 4217 code: the schema states the form (three letters), the"
            " server checks the code against the ISO 4217 list (400 invalid_request naming the field).",
        )
        for operation in ("POST /api/v1/providers", "PATCH /api/v1/providers/{provider_id}")
    ),
    Relaxation(
        "POST /api/v1/keys",
        "positive_data_acceptance",
        _accepting("400"),
        "providerIds must name providers of the caller's workspace, which a schema cannot list"
        " (400 invalid_request naming the unknown ids).",
    ),
    Relaxation(
        "POST /api/v1/providers/{provider_id}/batches",
        "positive_data_acceptance",
        _accepting("400"),
        "start and end are ISO 8601 dates or date-times with start < end, and only for replace_range; the"
        " mode must fit the dataset (400 invalid_window / invalid_mode / invalid_request).",
    ),
    *(
        Relaxation(
            operation,
            "positive_data_acceptance",
            _accepting("400", "413", "415", "422"),
            "The upload is a CSV or Parquet file whose content (header, rows, encoding, mapping, options) the"
            " multipart schema cannot describe: a generated file is refused with a documented 4xx.",
        )
        for operation in (
            "POST /api/v1/providers/{provider_id}/imports",
            "POST /api/v1/providers/{provider_id}/imports/preview",
        )
    ),
    *(
        Relaxation(
            operation,
            "positive_data_acceptance",
            _accepting("400", "413", "415", "422"),
            "Rows are FOCUS rows: the envelope schema cannot state the FOCUS rules the validator applies"
            " (422 validation_failed), nor that an Idempotency-Key names one body (422"
            " idempotency_key_reused), nor the replace window's rules (400).",
        )
        for operation in (
            "POST /api/v1/public/ingest/focus/{connection_id}",
            "POST /api/v1/batches/{batch_id}/parts",
        )
    ),
    Relaxation(
        "PUT /api/v1/providers/{provider_id}/mapping",
        "positive_data_acceptance",
        _accepting("400", "422"),
        "A mapping document maps file columns onto FOCUS columns; which names and transforms are valid is"
        " checked by the server (400 invalid_mapping, 422 mapping_invalid), not expressible in the schema.",
    ),
    *(
        Relaxation(
            operation,
            "positive_data_acceptance",
            _accepting("400"),
            "An explorer query has rules across its fields that JSON Schema cannot state (equals and contains"
            " take one value, in and not_in at least one, present and absent none; end not before start; a"
            " dimension used once), and limits that are settings or depend on the data (top up to"
            " explorer_max_groups, at most explorer_max_groups groups without top, explorer_max_rows rows):"
            " 400 invalid_query / too_many_groups / result_too_large naming the field.",
        )
        for operation in (
            "POST /api/v1/explorer/query",
            "POST /api/v1/views",
            "PATCH /api/v1/views/{view_id}",
        )
    ),
    Relaxation(
        "PUT /api/v1/fx-rates",
        "positive_data_acceptance",
        _accepting("400", "413"),
        "The body is a CSV file (header date,from,to,rate; ISO 4217 codes; positive decimal rates; one"
        " rate per day and pair) that a text/csv schema cannot describe: 400 invalid_rates names the line.",
    ),
    *(
        Relaxation(
            operation,
            "positive_data_acceptance",
            _accepting("400"),
            "A webhook URL must be http(s) and resolve, at creation and again at each delivery, to a public"
            " address (SSRF rules, FOCUSBASE_WEBHOOK_ALLOW_PRIVATE_DESTINATIONS): DNS answers are not"
            " expressible in a schema (400 webhook_destination_forbidden / _unresolvable / invalid_request).",
        )
        for operation in ("POST /api/v1/webhooks", "PATCH /api/v1/webhooks/{webhook_id}")
    ),
    *(
        Relaxation(
            operation,
            "positive_data_acceptance",
            _accepting("400", "409"),
            "One body serves create and update: which fields a create needs, that the scope names a provider"
            " or saved view of the workspace, ISO 4217 currencies, YYYY-MM amount keys with positive decimal"
            " amounts and threshold shapes are checked by the budget service (400 naming the field; 409"
            " budget_exists).",
        )
        for operation in ("POST /api/v1/budgets", "PATCH /api/v1/budgets/{budget_id}")
    ),
    Relaxation(
        "GET /api/v1/anomalies",
        "positive_data_acceptance",
        _accepting("400"),
        "pageToken is an opaque token that only a previous page of this list hands out; any other string is"
        " 400 invalid_page_token, as the operation documents.",
    ),
    Relaxation(
        "GET /api/v1/forecasts",
        "positive_data_acceptance",
        _accepting("400"),
        "scopeValue is required exactly when scope is not provider, and provider exactly when scope is not"
        " view (rules across two parameters that OpenAPI parameters cannot state): 400 invalid_parameter"
        " naming the missing parameter.",
    ),
    Relaxation(
        "POST /api/v1/budgets/import",
        "positive_data_acceptance",
        _accepting("400", "413", "422"),
        "The body is a Vantage budget CSV whose columns, months and amounts a text/csv schema cannot describe"
        " (422 budget_import_invalid names the row and column); providerId must exist in the workspace.",
    ),
    Relaxation(
        "POST /focus/v1/cost-and-usage/export",
        "positive_data_acceptance",
        _accepting("400"),
        "The window must lie within the years 1900 to 9999 in UTC (docs/exports.md), which JSON Schema's"
        " date-time format cannot state; other values are 400 invalid_request naming the property.",
    ),
)


@dataclass
class Server:
    url: str
    keys: dict[str, str]  # scope -> key
    workdir: Path
    protected: list[str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# KeyValueFormat values: strings, numbers, booleans and null (never objects or arrays).
_TAGGED = {"Tags": orjson.dumps({"env": "prod", "cost-center": 123, "shared": True, "owner": None}).decode()}


def _load(data_dir: Path) -> tuple[dict[str, str], list[str]]:
    catalog = open_catalog(Settings(data_dir=data_dir))
    warehouse = Warehouse.in_dir(data_dir)
    try:
        a = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="A", default_currency="USD")
        b = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="B", default_currency="EUR")
        months = [month(2025, 1), month(2025, 2)]
        rows = make_rows(60, 1, months)
        rows[0].update(_TAGGED)
        commit_rows(warehouse, rows, provider_id=a.provider.id)
        commit_rows(warehouse, make_rows(30, 2, months), provider_id=b.provider.id)
        commit_rows(warehouse, COMMITMENTS, provider_id=a.provider.id, dataset="ContractCommitment")
        admin = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="st admin", scopes=["admin"])
        read = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="st read", scopes=["read"])
        keys = {"admin": admin.key, "read": read.key, "ingest": a.ingest_key.key}
        protected = [admin.id, read.id, a.provider.id, b.provider.id]
        return keys, protected
    finally:
        warehouse.close()
        catalog.close()


def _env(data_dir: Path, protected: list[str]) -> dict[str, str]:
    return {
        **os.environ,
        "FOCUSBASE_DATA_DIR": str(data_dir),
        "FOCUSBASE_SECRET_KEY": SECRET,
        "FOCUSBASE_RATE_LIMIT_READ_PER_MINUTE": "1000000",
        "FOCUSBASE_RATE_LIMIT_INGEST_PER_MINUTE": "1000000",
        "FOCUSBASE_LOG_LEVEL": "warning",
        "FOCUSBASE_ST_PROTECTED": ",".join(protected),
        "SCHEMATHESIS_HOOKS": "tests.focusapi.st_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)])),
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("schemathesis")
    data_dir = workdir / "data"
    keys, protected = _load(data_dir)
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "focusbase.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=_env(data_dir, protected),
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        yield Server(url, keys, workdir, protected)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _config(path: Path, provider_id: str | None) -> Path:
    lines = []
    if provider_id is not None:
        # Aim provider-scoped operations at a real provider, so they reach more than the 404 of an unknown id.
        lines += [
            "[parameters]",
            f'"path.provider_id" = {json.dumps(provider_id)}',
            f'"path.connection_id" = {json.dumps(provider_id)}',
            "",
        ]
    for relaxation in RELAXATIONS:
        lines += [
            f"# {relaxation.reason}",
            "[[operations]]",
            f"include-name = {json.dumps(relaxation.operation)}",
            f"checks.{relaxation.check}.{relaxation.setting}",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@dataclass
class Run:
    code: int
    output: str
    failures: list[dict[str, str]]
    operations: set[str]


def _run(
    server: Server, name: str, location: str, key: str, *extra: str, provider_id: str | None = None
) -> Run:
    junit = server.workdir / f"{name}.junit.xml"
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(_config(server.workdir / f"{name}.toml", provider_id)),
        "run",
        location,
        *extra,
        "-H",
        f"Authorization: Bearer {key}",
        "--checks",
        "all",
        "--phases",
        PHASES,
        "-n",
        EXAMPLES,
        "--seed",
        SEED,
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
        "--request-timeout",
        "30",
        *os.environ.get("FOCUSBASE_ST_EXTRA", "").split(),
    ]
    result = subprocess.run(
        command,
        env=_env(server.workdir / "data", server.protected),
        cwd=server.workdir,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    (server.workdir / f"{name}.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    failures, operations = [], set()
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            operations.add(case.get("name", ""))
            for failure in case.iter("failure"):
                failures.append(
                    {
                        "operation": case.get("name", ""),
                        "message": failure.get("message", ""),
                        "text": failure.text or "",
                    }
                )
    return Run(result.returncode, result.stdout + result.stderr, failures, operations)


def _served_operations(server: Server) -> set[str]:
    doc = httpx.get(server.url + "/openapi.json", timeout=10).json()
    return {f"{method.upper()} {path}" for path, item in doc["paths"].items() for method in item}


@pytest.mark.parametrize("scope", ["read", "ingest", "admin"])
def test_served_document_has_no_failures(server: Server, scope: str) -> None:
    # The ingest key works on its own provider (A); the others on B, so A's rows stay as loaded.
    provider = server.protected[2] if scope == "ingest" else server.protected[3]
    run = _run(
        server, f"served-{scope}", server.url + "/openapi.json", server.keys[scope], provider_id=provider
    )
    assert run.code == 0 and run.failures == [], run.output[-8000:]
    # every operation the server documents was exercised, whatever was added to the API since
    served = _served_operations(server)
    assert run.operations - {"Stateful tests"} == served, run.output[-3000:]
    # and every relaxation names an operation that exists (a stale one would hide nothing, silently)
    assert {r.operation for r in RELAXATIONS} <= served


def _unexplained(failure: dict[str, str], pointers: set[str]) -> list[str]:
    """What in one schemathesis failure no correction explains (empty when all of it is explained)."""
    text, operation = failure["text"], failure["operation"]
    method, _, path = operation.partition(" ")
    problems = []
    for code in sorted(set(re.findall(r"^- (ST\d{3}) ", text, flags=re.MULTILINE))):
        if code == "ST108":  # response violates the seed schema: the violated schema must be a corrected one
            for schema in re.findall(r"Schema at (/\S+?):", text):
                pointer = schema.replace("/components/schemas/", "/schemas/", 1)
                if not any(related(pointer, p) for p in pointers):
                    problems.append(f"{operation}: {code} at {schema}")
        elif code == "ST103":  # a status code the seed does not document, which a correction adds
            for status in re.findall(r"Received: (\d{3})", text):
                pointer = f"/paths/{path}/{method.lower()}/responses/{status}"
                if pointer not in pointers:
                    problems.append(f"{operation}: {code} status {status}")
        else:
            problems.append(f"{operation}: {code}")
    return problems


def test_seed_document_failures_are_all_explained_by_corrections(server: Server) -> None:
    seed = str(REPO / "src" / "focusbase" / "api" / SEED_FILE)
    run = _run(
        server,
        "seed",
        seed,
        server.keys["read"],
        "--url",
        server.url + "/focus/v1",
        "--include-path-regex",
        r"^/(cost-and-usage|contract-commitments|schema)$",
    )
    assert "3 selected" in run.output, run.output[-3000:]
    pointers = set().union(*explained().values())
    problems = [problem for failure in run.failures for problem in _unexplained(failure, pointers)]
    assert problems == [], run.output[-6000:]
    # the run does exercise the corrections: the seed's PricingCategory values reject FOCUS 1.0+ data
    assert any("PricingCategory" in f["text"] for f in run.failures), run.output[-6000:]
