"""File loading: formats, duplicate headers, envelope dataset, reproducible fixtures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from focusbase.focus import Dataset
from focusbase.ingest.files import FileReadError, detect_format, load_table, validate_file

CASES = Path(__file__).resolve().parents[1] / "cases"


def test_duplicate_header_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(
        "ChargePeriodStart,BilledCost,BilledCost,ServiceName,ChargeCategory\n2025-01-01,1,2,S3,Usage\n"
    )
    result = validate_file(path, profile="ingest").result
    assert [(f.column, f.rule) for f in result.errors] == [("BilledCost_1", "column-duplicate")]


def test_load_table_keeps_text_and_order() -> None:
    loaded = load_table(CASES / "invalid" / "focus-1.3-three-defects.csv")
    assert loaded.format == "csv"
    assert loaded.rows == 10
    assert loaded.table.column("BilledCost")[4].as_py() == "1,000.00"
    assert loaded.table.column("ChargeClass").null_count == 10


def test_envelope_dataset_selects_contract_commitment(tmp_path: Path) -> None:
    path = tmp_path / "cc.json"
    path.write_text(
        '{"format":"stackspend.focus","version":"1","dataset":"ContractCommitment","rows":['
        '{"ContractCommitmentId":"cc-1","ContractId":"c-1","ContractCommitmentCategory":"Spend"}]}'
    )
    assert load_table(path).dataset == "ContractCommitment"
    result = validate_file(path, profile="ingest").result
    assert result.findings == [] and result.rows == 1
    strict = validate_file(path, dataset=Dataset.CONTRACT_COMMITMENT).result
    assert strict.counts.rules["column-missing"] == 10


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match="no such file"):
        load_table(tmp_path / "nope.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    assert detect_format(bad) == "parquet"
    with pytest.raises(FileReadError, match="Parquet"):
        load_table(bad)


def test_committed_clean_fixtures_match_the_generator(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_cases", CASES / "make_cases.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "focus-1.3-clean.csv"
    module.write_csv(out, module.clean_rows("1.3", 2000))
    assert out.read_bytes() == (CASES / "valid" / "focus-1.3-clean.csv").read_bytes()


def test_version_and_dataset_are_detected_from_the_header() -> None:
    for version in ("1.0", "1.1", "1.2", "1.3"):
        checked = validate_file(CASES / "valid" / f"focus-{version}-clean.csv")
        assert (checked.version, checked.result.findings) == (version, [])
    checked = validate_file(CASES / "samples" / "focus_sample_contractcommitment_gcp.csv")
    assert checked.version == "1.3"
    assert checked.result.valid and checked.result.findings == []
    # An explicit version wins: a 1.2 file validated as 1.3 lacks the 1.3 mandatory columns.
    forced = validate_file(CASES / "valid" / "focus-1.2-clean.csv", version="1.3").result
    assert {f.column for f in forced.errors} == {"ServiceProviderName", "HostProviderName"}


def test_progress_callbacks_do_not_change_the_result() -> None:
    phases: list[str] = []
    seen: list[float] = []
    checked = validate_file(
        CASES / "invalid" / "focus-1.3-three-defects.csv", progress=phases.append, percent=seen.append
    )
    assert checked.result.counts.errors == 4
    assert phases[0] == "checking the file"
    assert all(0 <= value <= 100 for value in seen)
