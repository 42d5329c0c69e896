"""schemathesis (`--checks all`, fixed seed, bounded examples) against the live server on a loaded database.

Against the served document: zero failures. Against the seed document: every failure must be one that a
documented correction (api/openapi.py, docs/api.md) explains.
"""

from __future__ import annotations

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
import pytest

from focusbase.api.openapi import SEED_FILE
from focusbase.storage import Catalog, Warehouse
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from focusbase.tenancy.providers import create_provider
from tests.focusapi.loader import commit_rows, make_rows, month
from tests.focusapi.seeddiff import explained, related
from tests.focusapi.test_access import COMMITMENTS

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
OPERATIONS = r"^{prefix}/(cost-and-usage|contract-commitments|schema)$"
SECRET = "schemathesis-test-secret"
EXAMPLES = os.environ.get("FOCUSAPI_ST_EXAMPLES", "25")  # more for a deeper local run
SEED = "20261122"


@dataclass
class Server:
    url: str
    key: str
    workdir: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _load(data_dir: Path) -> str:
    catalog = Catalog.in_dir(data_dir)
    warehouse = Warehouse.in_dir(data_dir)
    try:
        a = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="A", default_currency="USD").provider.id
        b = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="B", default_currency="EUR").provider.id
        months = [month(2025, 1), month(2025, 2)]
        commit_rows(warehouse, make_rows(60, 1, months), provider_id=a)
        commit_rows(warehouse, make_rows(30, 2, months), provider_id=b)
        commit_rows(warehouse, COMMITMENTS, provider_id=a, dataset="ContractCommitment")
        return create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="st", scopes=["read"]).key
    finally:
        warehouse.close()
        catalog.close()


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FOCUSBASE_DATA_DIR": str(data_dir),
        "FOCUSBASE_SECRET_KEY": SECRET,
        "FOCUSBASE_RATE_LIMIT_READ_PER_MINUTE": "1000000",
        "FOCUSBASE_LOG_LEVEL": "warning",
        "SCHEMATHESIS_HOOKS": "tests.focusapi.st_hooks",
        "PYTHONPATH": str(REPO),
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("schemathesis")
    data_dir = workdir / "data"
    key = _load(data_dir)
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
        env=_env(data_dir),
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
        yield Server(url, key, workdir)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _run(
    server: Server, name: str, location: str, prefix: str, *extra: str
) -> tuple[int, str, list[dict[str, str]]]:
    junit = server.workdir / f"{name}.junit.xml"
    command = [
        str(SCHEMATHESIS),
        "run",
        location,
        *extra,
        "-H",
        f"Authorization: Bearer {server.key}",
        "--checks",
        "all",
        "-n",
        EXAMPLES,
        "--seed",
        SEED,
        "--include-path-regex",
        OPERATIONS.format(prefix=prefix),
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
        "--request-timeout",
        "30",
    ]
    result = subprocess.run(
        command,
        env=_env(server.workdir / "data"),
        cwd=server.workdir,
        capture_output=True,
        text=True,
        timeout=240,
    )
    failures = []
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            for failure in case.iter("failure"):
                failures.append(
                    {
                        "operation": case.get("name", ""),
                        "message": failure.get("message", ""),
                        "text": failure.text or "",
                    }
                )
    return result.returncode, result.stdout + result.stderr, failures


def test_served_document_has_no_failures(server: Server) -> None:
    code, output, failures = _run(server, "served", server.url + "/openapi.json", "/focus/v1")
    assert code == 0 and failures == [], output[-6000:]
    assert "No issues found" in output


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
    _, output, failures = _run(server, "seed", seed, "", "--url", server.url + "/focus/v1")
    assert "3 selected" in output, output[-3000:]
    pointers = set().union(*explained().values())
    problems = [problem for failure in failures for problem in _unexplained(failure, pointers)]
    assert problems == [], output[-6000:]
    # the run does exercise the corrections: the seed's PricingCategory values reject FOCUS 1.0+ data
    assert any("PricingCategory" in f["text"] for f in failures), output[-6000:]
