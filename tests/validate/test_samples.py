"""Published FOCUS samples: the official 1.0 sample's real defects, and the synthetic 1.3 files."""

from __future__ import annotations

from pathlib import Path

import pytest

from focusbase.focus import Dataset
from focusbase.ingest.files import validate_file

SAMPLES = Path(__file__).resolve().parents[1] / "cases" / "samples"


def test_official_1_0_sample_reports_its_real_defects() -> None:
    result = validate_file(
        SAMPLES / "focus-1.0-official-sample.csv", version="1.0", max_findings=100_000
    ).result
    assert result.rows == 1000
    assert not result.valid
    found = {(f.row, f.column, f.rule) for f in result.findings}
    # The unprefixed extra column.
    assert (None, "Id", "column-unknown") in found
    # Date-times without T and Z, on every row of all four date-time columns.
    assert result.counts.rules["datetime-format"] == 4000
    for column in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"):
        assert (1, column, "datetime-format") in found
    first = next(
        f for f in result.findings if f.rule == "datetime-format" and f.column == "ChargePeriodStart"
    )
    assert '"2024-09-18 22:00:00"' in first.message
    # The literal string NULL used for nulls: 8,973 cells, reported once each (not also as bad values).
    assert result.counts.rules["null-placeholder"] == 8973
    assert (1, "ChargeClass", "null-placeholder") in found
    assert (1, "ChargeClass", "allowed-value") not in found
    assert result.invalid_rows == list(range(1, 1001))
    # Real value defects beyond the formatting ones.
    assert (16, "ResourceType", "set-without-parent") in found  # a type for a row without ResourceId
    hint = next(f for f in result.findings if (f.row, f.column) == (926, "ChargeFrequency"))
    assert 'did you mean "Usage-Based"' in hint.message  # "Usage-based"
    assert (457, "ContractedUnitPrice", "unit-price-negative") in found
    assert (947, "ListCost", "list-cost-product") in found


@pytest.mark.parametrize("provider", ["aws", "azure", "gcp"])
def test_synthetic_1_3_contract_commitment_files_are_valid(provider: str) -> None:
    path = SAMPLES / f"focus_sample_contractcommitment_{provider}.csv"
    result = validate_file(path, version="1.3", dataset=Dataset.CONTRACT_COMMITMENT).result
    assert result.rows > 20
    assert result.findings == []


def test_synthetic_1_3_cost_and_usage_excerpt_has_one_unrepresentable_decimal() -> None:
    result = validate_file(SAMPLES / "focus_sample_costandusage_aws_first16rows.csv", version="1.3").result
    assert result.rows == 16
    # ListCost 21.44988849635786 has 14 decimals: storing it as DECIMAL(38,12) would round it.
    assert [(f.row, f.column, f.rule) for f in result.findings] == [(16, "ListCost", "decimal-precision")]


def test_contract_commitment_rules(tmp_path: Path) -> None:
    source = (SAMPLES / "focus_sample_contractcommitment_aws.csv").read_text(encoding="utf-8").splitlines()
    header = source[0].split(",")
    row = source[1].split(",")  # a Spend commitment
    row[header.index("ContractCommitmentCost")] = ""
    row[header.index("ContractPeriodEnd")] = "2025-01-31T00:00:00Z"
    path = tmp_path / "cc.csv"
    path.write_text("\n".join([source[0], ",".join(row), *source[2:]]) + "\n", encoding="utf-8")
    result = validate_file(path, version="1.3", dataset=Dataset.CONTRACT_COMMITMENT).result
    assert {(f.row, f.column, f.rule) for f in result.errors} == {
        (1, "ContractCommitmentCost", "required-for-category"),
        (1, "ContractPeriodEnd", "period-order"),
    }
