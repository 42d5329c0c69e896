"""Dependencies point one way: pure modules import nothing from api, cli or storage."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "focusbase"
PURE = ("focus", "validate", "analytics/detect")
FORBIDDEN = ("focusbase.api", "focusbase.cli", "focusbase.storage", "focusbase.app")


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
    # api and cli never talk to the databases directly.
    offenders = []
    for package in ("api", "cli"):
        for path in (SRC / package).rglob("*.py"):
            for name in _imports(path):
                if name in {"duckdb", "sqlite3"}:
                    offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []
