"""Our own strict validator finds nothing wrong with the demo data, typed (Arrow) or as CSV text."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from focusbase.demo import generate, write_demo_data
from focusbase.focus import Dataset, columns
from focusbase.validate import validate_table


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_strict_profile_reports_nothing_on_typed_rows(version: str) -> None:
    table = generate(5000, days=21, seed=11, focus_version=version)
    result = validate_table(table, profile="strict", version=version)
    assert result.findings == [], result.findings[:5]
    assert result.counts.errors == 0 and result.counts.warnings == 0


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_strict_profile_reports_nothing_on_csv_text(tmp_path: Path, version: str) -> None:
    out = write_demo_data(tmp_path / "demo.csv", 5000, days=21, seed=11, focus_version=version)
    text_types = {name: pa.string() for name in columns(version)}
    table = pacsv.read_csv(
        out.path, convert_options=pacsv.ConvertOptions(column_types=text_types, strings_can_be_null=True)
    )
    result = validate_table(table, profile="strict", version=version)
    assert result.findings == [], result.findings[:5]


def test_strict_profile_accepts_the_contract_commitment_dataset() -> None:
    table = generate(5000, days=21, focus_version="1.3", dataset=Dataset.CONTRACT_COMMITMENT)
    result = validate_table(table, profile="strict", version="1.3", dataset=Dataset.CONTRACT_COMMITMENT)
    assert result.findings == []
    assert table.num_rows == 4
