"""Dependencies point one way: pure modules import nothing from api, cli or storage."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "focusbase"
PURE = ("focus", "validate", "analytics/detect")
FORBIDDEN = ("focusbase.api", "focusbase.cli", "focusbase.web", "focusbase.storage", "focusbase.app")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_pure_modules_do_not_import_edges_or_storage() -> None:
    offenders = []
    for package in PURE:
        for path in (SRC / package).rglob("*.py"):
            for name in _imports(path):
                if name.startswith(FORBIDDEN):
                    offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []


def test_sql_lives_in_storage_only() -> None:
    # api, cli and web never talk to the databases directly.
    offenders = []
    for package in ("api", "cli", "web"):
        for path in (SRC / package).rglob("*.py"):
            for name in _imports(path):
                if name in {"duckdb", "sqlite3"}:
                    offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []


def test_edges_do_not_import_each_other_and_services_import_no_edge() -> None:
    # api, cli and web call the services; none builds on another edge, and no service imports an edge.
    edges = {"api", "cli", "web"}
    offenders = []
    for path in SRC.rglob("*.py"):
        package = path.relative_to(SRC).parts[0]
        if package in ("app.py", "__main__.py"):
            continue
        allowed = {f"focusbase.{package}"} if package in edges else set()
        for name in _imports(path):
            for edge in edges:
                target = f"focusbase.{edge}"
                if (name == target or name.startswith(target + ".")) and target not in allowed:
                    offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []


def test_analytics_is_a_service_layer() -> None:
    # analytics/ is called by api, cli and web, and calls storage; its query model is pure.
    offenders = []
    for path in (SRC / "analytics").rglob("*.py"):
        for name in _imports(path):
            if name.startswith(("focusbase.api", "focusbase.cli", "focusbase.app")) or name in {
                "duckdb",
                "sqlite3",
            }:
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    for name in _imports(SRC / "analytics" / "model.py"):
        if name.startswith(("focusbase.storage", "focusbase.config")):
            offenders.append(f"analytics/model.py imports {name}")
    assert offenders == []


def test_scale_out_drivers_stay_in_their_storage_modules() -> None:
    # The embedded profile never needs psycopg or ClickHouse: only these modules import them, lazily chosen.
    homes = {"psycopg": "storage/postgres.py", "psycopg_pool": "storage/postgres.py"}
    homes |= {"clickhouse_connect": "storage/clickhouse_client.py", "chdb": "storage/clickhouse_client.py"}
    offenders = []
    for path in SRC.rglob("*.py"):
        for name in _imports(path):
            home = homes.get(name.split(".")[0])
            if home is not None and path.relative_to(SRC).as_posix() != home:
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []


def test_the_embedded_server_imports_no_scale_out_driver() -> None:
    code = (
        "import sys, focusbase.app, focusbase.cli, focusbase.runtime\n"
        "drivers = ('psycopg', 'psycopg_pool', 'clickhouse_connect', 'chdb')\n"
        "print(sorted(m for m in drivers if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
