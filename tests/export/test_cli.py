"""`focusbase export`: on the data directory, through a running server, and when the server holds it."""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from focusbase.cli import _register, app
from focusbase.config import Settings
from focusbase.focus import columns
from focusbase.runtime import Runtime
from focusbase.storage import open_catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.conftest import serve_in_thread
from tests.export.conftest import cost_row, exact_sums, insert_cost_rows, stored_sums

_register()


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    """A data directory holding 30 January rows; nothing keeps it open."""
    rt = Runtime.open(settings)
    insert_cost_rows(rt.warehouse, [cost_row(i) for i in range(30)])
    rt.warehouse.close()
    rt.catalog.close()
    return settings.data_dir


def test_export_on_the_data_directory(data_dir: Path, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "out" / "jan.parquet"
    args = ["export", "--start", "2025-01-01", "--end", "2025-02-01", "--format", "parquet"]
    args += ["--focus-version", "1.2", "--out", str(out), "--data-dir", str(data_dir)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wrote 30 rows" in result.output
    table = pq.read_table(out)
    assert table.num_rows == 30
    assert table.column_names == [*columns("1.2"), "x_CostCenter"]
    rt = Runtime.open(settings)
    try:
        assert exact_sums(table.to_pylist()) == stored_sums(rt.warehouse)
    finally:
        rt.warehouse.close()
        rt.catalog.close()


def test_bad_arguments_exit_1(data_dir: Path, tmp_path: Path) -> None:
    base = ["export", "--out", str(tmp_path / "x.csv"), "--data-dir", str(data_dir)]
    result = CliRunner().invoke(app, [*base, "--start", "1899-12-01", "--end", "2025-01-01"])
    assert result.exit_code == 1 and "must lie between the years 1900 and 9999" in result.output
    result = CliRunner().invoke(app, [*base, "--start", "yesterday", "--end", "2025-01-01"])
    assert result.exit_code == 1 and "--start: 'yesterday' is not an ISO 8601" in result.output
    result = CliRunner().invoke(
        app, [*base, "--start", "2025-01-01", "--end", "2025-02-01", "--workspace", "nope"]
    )
    assert result.exit_code == 1 and "no workspace named 'nope'" in result.output


def test_locked_data_directory_fails_clearly(data_dir: Path, tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from focusbase.storage import Warehouse;"
            " w = Warehouse.in_dir(__import__('pathlib').Path(sys.argv[1])); print('held', flush=True);"
            " time.sleep(60)",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        args = ["export", "--start", "2025-01-01", "--end", "2025-02-01", "--out", str(tmp_path / "x.csv")]
        result = CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)])
        assert result.exit_code == 1
        assert "is in use by another process" in result.output and "--server URL --key KEY" in result.output
        assert not (tmp_path / "x.csv").exists()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


@pytest.fixture
def server(data_dir: Path, settings: Settings) -> Iterator[str]:
    """The real app served by uvicorn on a free port, in a thread."""
    with serve_in_thread(settings) as url:
        yield url


def test_export_through_the_server(server: str, data_dir: Path, tmp_path: Path) -> None:

    key = create_key(
        open_catalog(Settings(data_dir=data_dir)),
        workspace_id=DEFAULT_WORKSPACE_ID,
        name="cli",
        scopes=["read"],
    ).key
    out = tmp_path / "jan.csv.gz"
    args = ["export", "--start", "2025-01-01T00:00:00Z", "--end", "2025-02-01T00:00:00Z", "--format", "csv"]
    args += [
        "--compression",
        "gzip",
        "--out",
        str(out),
        "--server",
        server,
        "--key",
        key,
        "--resource-id",
        "vm-1",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wrote 5 rows" in result.output
    lines = gzip.decompress(out.read_bytes()).decode().splitlines()
    assert lines[0].split(",") == [*columns("1.3"), "x_CostCenter"]
    assert len(lines) == 6

    result = CliRunner().invoke(app, [*args[:-4], "--server", server, "--key", "fbk_key_bad_secret"])
    assert result.exit_code == 1 and "401 unauthorized" in result.output
