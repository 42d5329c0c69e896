"""`focusbase validate`: exit codes 0/1/2, text grouped by rule, exactly one JSON object."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from typer.testing import CliRunner

from focusbase.cli import _register, app

CASES = Path(__file__).resolve().parents[1] / "cases"
CLEAN = CASES / "valid" / "focus-1.3-clean.csv"
BAD = CASES / "invalid" / "focus-1.3-three-defects.csv"

_register()
runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", *args])
    return result.exit_code, result.stdout


def test_clean_file_exits_0() -> None:
    code, out = _run(str(CLEAN))
    assert code == 0
    assert "valid - 0 errors" in out


def test_errors_exit_1_and_json_is_one_object() -> None:
    code, out = _run(str(BAD), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert set(report) == {"valid", "rows", "findings", "counts"}
    assert report["valid"] is False
    assert report["rows"] == 10
    assert all(set(f) == {"row", "column", "rule", "severity", "message"} for f in report["findings"])
    seeded = {(f["row"], f["column"], f["rule"]) for f in report["findings"]}
    assert {
        (3, "ChargeCategory", "allowed-value"),
        (5, "BilledCost", "numeric-format"),
        (7, "ChargePeriodStart", "datetime-format"),
    } <= seeded
    assert report["counts"]["errors"] == len(report["findings"])
    assert report["counts"]["rules"]["numeric-format"] == 1


def test_max_findings_truncates_the_list_not_the_counts() -> None:
    code, out = _run(
        str(CASES / "samples" / "focus-1.0-official-sample.csv"),
        "--focus-version",
        "1.0",
        "--format",
        "json",
        "--max-findings",
        "10",
    )
    report = json.loads(out)
    assert code == 1
    assert len([f for f in report["findings"] if f["severity"] == "error"]) == 10
    assert report["counts"]["errors"] > 10_000


def test_text_output_groups_by_rule() -> None:
    code, out = _run(str(BAD))
    assert code == 1
    assert "error allowed-value: 1 in total" in out
    assert "row 5, BilledCost:" in out


def test_unreadable_or_wrong_call_exits_2(tmp_path: Path) -> None:
    assert _run(str(tmp_path / "missing.csv"))[0] == 2
    assert _run(str(CASES / "invalid" / "unterminated-quote.csv"))[0] == 2
    assert _run(str(CLEAN), "--focus-version", "2.0")[0] == 2
    assert _run(str(CLEAN), "--profile", "lenient")[0] == 2
    assert _run(str(CLEAN), "--dataset", "invoices")[0] == 2
    assert _run(str(CLEAN), "--dataset", "contract-commitment", "--focus-version", "1.2")[0] == 2
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "stackspend.focus", "version": "1", "rows": 5}')
    assert _run(str(broken))[0] == 2


def test_gzip_parquet_and_json_inputs(tmp_path: Path) -> None:
    gz = tmp_path / "bad.csv.gz"
    gz.write_bytes(gzip.compress(BAD.read_bytes()))
    assert _run(str(gz))[0] == 1
    parquet = tmp_path / "clean.parquet"
    typed = pacsv.read_csv(CLEAN, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    pq.write_table(typed, parquet)
    code, out = _run(str(parquet), "--format", "json")
    assert code == 0, out
    report = json.loads(out)
    assert report["rows"] == 2000
    # Costs read as doubles are flagged (not failed): binary floats may already be inexact.
    assert {f["rule"] for f in report["findings"]} == {"column-type"}
    assert _run(str(CASES / "edge" / "ingest-minimal.json"), "--profile", "ingest")[0] == 0
    # As strict FOCUS the minimal push rows miss most mandatory columns and use date-only values.
    code, out = _run(str(CASES / "edge" / "ingest-minimal.json"), "--format", "json")
    assert code == 1
    rules = json.loads(out)["counts"]["rules"]
    assert rules["column-missing"] > 10
    assert rules["datetime-format"] == 3


def test_several_files_make_one_report() -> None:
    code, out = _run(str(CLEAN), str(BAD), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["rows"] == 2010
    assert [f["valid"] for f in report["files"]] == [True, False]
    assert {f["file"] for f in report["findings"]} == {str(BAD)}
