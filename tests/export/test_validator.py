"""Demo data stored, exported as FOCUS 1.2 CSV and Parquet, checked by the official focus-validator 2.2.1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from benchmarks.focus_validator import KNOWN_VALIDATOR_BUGS, find_python312, run_focus_validator
from fastapi.testclient import TestClient

from focusbase.demo import write_demo_data
from focusbase.storage import Warehouse
from tests.export.conftest import download, insert_focus_file

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(warehouse: Warehouse, tmp_path: Path) -> int:
    """3,000 demo rows (FOCUS 1.3, several providers, commitments, taxes and credits) stored as live rows."""
    out = write_demo_data(tmp_path / "demo.parquet", 3000, focus_version="1.3")
    insert_focus_file(warehouse, out.path)
    return out.rows


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_focus_12_export_passes_focus_validator(
    demo: int, client: TestClient, run_export: Callable[..., dict[str, Any]], tmp_path: Path, fmt: str
) -> None:
    if find_python312() is None:
        pytest.skip("focus-validator 2.2.1 needs Python >= 3.12 and none is installed here")
    job = run_export(
        format=fmt,
        focusVersion="1.2",
        billingPeriodStart="2000-01-01T00:00:00Z",
        billingPeriodEnd="2100-01-01T00:00:00Z",
    )
    assert job["status"] == "Complete" and job["recordCount"] == demo
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(download(client, job))
    result = run_focus_validator(path)
    assert result.available, result.reason
    assert result.tests > 0
    assert result.ok, f"{result.summary()}: {dict((r, result.messages.get(r)) for r in result.real_failures)}"
    assert set(result.allowlisted) <= set(KNOWN_VALIDATOR_BUGS)
