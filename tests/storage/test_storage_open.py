from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from focusbase.config import Settings
from focusbase.runtime import Runtime
from focusbase.storage import Warehouse, open_catalog


def test_migrations_apply_once_and_default_workspace_exists(tmp_path: Path) -> None:
    warehouse = Warehouse.in_dir(tmp_path)
    assert warehouse.migrate() == []  # second run applies nothing
    with warehouse.cursor() as cur:
        names = {r[0] for r in cur.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"cost_rows", "batches", "contract_commitment_rows", "live_cost_rows"} <= names
    assert "staged_cost_rows" not in names  # dropped by 0002: open batches stage inside cost_rows
    catalog = open_catalog(Settings(data_dir=tmp_path))
    assert catalog.migrate() == []
    with catalog.read() as conn:
        assert conn.execute("SELECT name FROM workspaces").fetchall()[0][0] == "default"
    warehouse.close()


def test_second_process_is_told_the_warehouse_is_in_use(tmp_path: Path) -> None:
    warehouse = Warehouse.in_dir(tmp_path)
    code = (
        "import sys; from pathlib import Path\n"
        "from focusbase.storage import Warehouse, DataDirLocked\n"
        "try:\n    Warehouse.in_dir(Path(sys.argv[1]))\n"
        "except DataDirLocked as e:\n    print(e); sys.exit(3)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 3
    assert "in use by another process" in proc.stdout
    warehouse.close()


def _memory_limit(runtime: Runtime) -> str:
    with runtime.warehouse.cursor() as cur:
        return str(cur.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])


def test_warehouse_memory_is_bounded_by_default_and_configurable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB keeps blocks it has written in its buffer pool; the default limit is what keeps a large import's
    # memory bounded (docs/operations.md). An empty setting hands the choice back to DuckDB.
    cases: list[tuple[str | None, str, str | None]] = [
        ("", "empty", None),
        ("2GB", "two", "1.8 GiB"),
        (None, "unset", "953.6 MiB"),
    ]
    for value, name, expected in cases:
        if value is None:
            monkeypatch.delenv("FOCUSBASE_DUCKDB_MEMORY_LIMIT", raising=False)
        else:
            monkeypatch.setenv("FOCUSBASE_DUCKDB_MEMORY_LIMIT", value)
        runtime = Runtime.open(Settings(data_dir=tmp_path / name))
        try:
            limit = _memory_limit(runtime)
        finally:
            runtime.warehouse.close()
            runtime.catalog.close()
        if expected is None:
            assert limit not in ("953.6 MiB", "1.8 GiB")  # DuckDB's own default: a share of the RAM
        else:
            assert limit == expected
