"""Demo data as FOCUS 1.2 passes the official focus-validator 2.2.1 (installed by the harness itself)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from benchmarks.focus_validator import (
    KNOWN_MODEL_ERRATA_ALL_CRITERIA,
    KNOWN_VALIDATOR_BUGS,
    find_python312,
    run_focus_validator,
)

from focusbase.demo import write_demo_data

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _needs_python312() -> None:
    if find_python312() is None:
        pytest.skip("focus-validator 2.2.1 needs Python >= 3.12 and no python3.12 is installed here")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_demo_12_passes_focus_validator(tmp_path: Path, suffix: str) -> None:
    out = write_demo_data(tmp_path / f"demo{suffix}", 4000, days=21, focus_version="1.2")
    assert out.plan.commitments and out.plan.taxes_and_credits  # every row kind is in the checked file
    result = run_focus_validator(out.path)
    assert result.available, result.reason
    assert result.tests > 500 and result.tests - result.skipped > 100
    assert result.ok, result.summary()
    assert set(result.allowlisted) <= set(KNOWN_VALIDATOR_BUGS)


def test_demo_12_with_every_applicability_criterion(tmp_path: Path) -> None:
    # Conditional columns (commitments, regions, SKUs, tags, ...) are only checked with criteria turned on.
    out = write_demo_data(tmp_path / "demo.parquet", 4000, days=21, focus_version="1.2")
    result = run_focus_validator(
        out.path, allow=KNOWN_MODEL_ERRATA_ALL_CRITERIA, extra_args=["--applicability-criteria", "ALL"]
    )
    assert result.tests - result.skipped > 300
    assert result.ok, result.summary()


def test_harness_reports_real_failures(tmp_path: Path) -> None:
    # The harness must be able to fail: drop the BilledCost column and it has to say so.
    good = write_demo_data(tmp_path / "good.csv", 300, days=5).path
    broken = tmp_path / "broken.csv"
    with (
        good.open(newline="", encoding="utf-8") as src,
        broken.open("w", newline="", encoding="utf-8") as dst,
    ):
        reader = csv.DictReader(src)
        fields = [f for f in reader.fieldnames or [] if f != "BilledCost"]
        writer = csv.DictWriter(dst, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(reader)
    result = run_focus_validator(broken)
    assert not result.ok
    assert "CostAndUsage-D-006-M" in result.real_failures
