"""Shared fixtures: real catalog and warehouse files in tmp_path, an in-process ASGI client, keys."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.storage import Catalog, Warehouse
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.postgres import throwaway_server, unavailable_reason

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "cases"


# FOCUSBASE_TEST_CATALOG=postgres (make test-scale) runs the tests with the scale-out catalog: every test gets
# an empty schema of one throw-away PostgreSQL server in FOCUSBASE_CATALOG_URL, which Settings() reads.
SCALE_CATALOG = os.environ.get("FOCUSBASE_TEST_CATALOG") == "postgres"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL server for the session (skips the test when none can be started)."""
    reason = unavailable_reason()
    if reason:
        if SCALE_CATALOG:
            pytest.fail(f"FOCUSBASE_TEST_CATALOG=postgres but {reason}")
        pytest.skip(reason)
    pytest.importorskip("psycopg")
    with throwaway_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """The URL of an empty schema of its own in the session's PostgreSQL server."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{postgres_server}&options=-csearch_path%3D{schema}"


# FOCUSBASE_TEST_WAREHOUSE=chdb adds the scale-out warehouse: every test gets a database of its own in one
# chDB engine per test process (chDB binds a process to one path), in FOCUSBASE_WAREHOUSE_URL.
SCALE_WAREHOUSE = os.environ.get("FOCUSBASE_TEST_WAREHOUSE") == "chdb"


@pytest.fixture(scope="session")
def scale_chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


TEMPLATE_DATABASE = "focusbase_template"


@pytest.fixture(scope="session")
def scale_chdb_template(scale_chdb_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A ClickHouse database migrated once per test process, and a client of its engine: each test's database
    is a copy of its schema (the migrations' result, their records included), which the server then finds
    migrated. Copying takes a tenth of the time the migrations take, for every test."""
    from focusbase.storage.clickhouse import ClickHouseWarehouse
    from focusbase.storage.clickhouse_client import open_client

    client = open_client(f"chdb://{scale_chdb_path}?database={TEMPLATE_DATABASE}")
    locks = Catalog.in_dir(tmp_path_factory.mktemp("template-locks"))
    ClickHouseWarehouse(client, locks)  # migrates
    locks.close()
    yield client


def _copy_schema(client: Any, database: str) -> None:
    objects = client.query(
        "SELECT create_table_query FROM system.tables WHERE database = {db:String}"
        " ORDER BY engine = 'MaterializedView', name",
        parameters={"db": TEMPLATE_DATABASE},
    ).result_rows
    client.command(f"CREATE DATABASE {database}")
    for (statement,) in objects:
        client.command(statement.replace(f"{TEMPLATE_DATABASE}.", f"{database}."))
    client.command(
        f"INSERT INTO {database}.schema_migrations SELECT * FROM {TEMPLATE_DATABASE}.schema_migrations"
    )


@pytest.fixture(autouse=SCALE_CATALOG or SCALE_WAREHOUSE)
def scale_catalog(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """With FOCUSBASE_TEST_CATALOG=postgres, every Settings() of the test uses a fresh PostgreSQL catalog;
    with FOCUSBASE_TEST_WAREHOUSE=chdb, a fresh ClickHouse database as well."""
    if SCALE_CATALOG or SCALE_WAREHOUSE:
        monkeypatch.setenv("FOCUSBASE_CATALOG_URL", request.getfixturevalue("postgres_url"))
    if SCALE_WAREHOUSE:
        marker = request.node.get_closest_marker("embedded_only")
        if marker is not None:
            pytest.skip(f"{EMBEDDED_ONLY_PREFIX}: {marker.args[0]}")
        path = request.getfixturevalue("scale_chdb_path")
        database = f"t_{uuid.uuid4().hex[:16]}"
        _copy_schema(request.getfixturevalue("scale_chdb_template"), database)
        monkeypatch.setenv("FOCUSBASE_WAREHOUSE_URL", f"chdb://{path}?database={database}")
        for name in ("cursor", "transaction"):
            monkeypatch.setattr(Warehouse, name, _embedded_only(getattr(Warehouse, name)))


EMBEDDED_ONLY_PREFIX = "embedded warehouse only"
EMBEDDED_ONLY = f"{EMBEDDED_ONLY_PREFIX}: reads its tables directly (DuckDB layout)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "embedded_only(reason): a test of the embedded warehouse itself, skipped on the ClickHouse run",
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """With FOCUSBASE_TEST_SKIPPED_FILE, list the tests skipped as embedded-only there (once, by the
    controller under xdist), so `make test-scale` runs them again on the scale-out catalog alone."""
    path = os.environ.get("FOCUSBASE_TEST_SKIPPED_FILE")
    if (
        path
        and report.skipped
        and not os.environ.get("PYTEST_XDIST_WORKER")
        and EMBEDDED_ONLY_PREFIX in str(report.longrepr)
    ):
        with open(path, "a", encoding="utf-8") as listed:
            listed.write(report.nodeid + "\n")


def _embedded_only(method: Any) -> Any:
    """On the ClickHouse warehouse, a test that reads the embedded warehouse's tables itself (SQL on DuckDB's
    `cost_rows`, `batches`, ...) is skipped: the scale-out runtime's DuckDB is an empty scratch database that
    only casts rows, and those tables' layout is the embedded warehouse's. The server's own use passes."""

    def guarded(self: Warehouse, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_code.co_filename
        snapshot = caller == str(REPO / "tests" / "scale_query.py")  # its own snapshot database
        if str(self.path) == ":memory:" and caller.startswith(str(REPO / "tests")) and not snapshot:
            pytest.skip(EMBEDDED_ONLY)
        return method(self, *args, **kwargs)

    return guarded


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", secret_key="test-secret-key")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def catalog(client: TestClient) -> Catalog:
    catalog: Catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
    return catalog


@pytest.fixture
def admin_key(catalog: Catalog) -> str:
    return create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="test admin", scopes=["admin"]).key


@pytest.fixture
def admin_headers(admin_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_key}"}


@contextmanager
def serve_in_thread(settings: Settings) -> Iterator[str]:
    """The real app served by uvicorn on a free port, in a thread; yields its base URL."""
    with serve_app(create_app(settings)) as url:
        yield url


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """An ASGI app served by uvicorn on a free port, in a thread; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(20)


class ScaleWarehouse:
    """What a test's `warehouse` fixture gives on the ClickHouse run: the runtime, for loaders that store rows
    through the ClickHouse warehouse (tests/focusapi/loader.py); SQL on it skips the test as embedded-only."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def cursor(self) -> Any:
        pytest.skip(EMBEDDED_ONLY)

    def transaction(self) -> Any:
        pytest.skip(EMBEDDED_ONLY)


def warehouse_of(client: TestClient) -> Any:
    """The embedded warehouse of the test's server, or on the ClickHouse run a ScaleWarehouse."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return ScaleWarehouse(runtime) if SCALE_WAREHOUSE else runtime.warehouse
