"""The focus-validator harness reads the JUnit report right (no Python 3.12 needed for this part)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.focus_validator import KNOWN_VALIDATOR_BUGS, FocusValidatorResult, parse_junit

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="FOCUS Validations" tests="6" failures="2" errors="1" skipped="2">
  <testsuite name="InvoiceId-C">
    <testcase name="InvoiceId-C-004-C :: CheckValue">
      <failure name="InvoiceId-C-004-C" message="Nullability check for InvoiceId" type="AssertionError"/>
    </testcase>
    <testcase name="InvoiceId-C-005-C :: CheckNotValue"/>
  </testsuite>
  <testsuite name="CostAndUsage-D">
    <testcase name="CostAndUsage-D-006-M :: ColumnPresent">
      <failure message="Column 'BilledCost' MUST be present in the table." type="AssertionError"/>
    </testcase>
    <testcase name="BilledCost-C-000-M :: Composite">
      <error message="Validation rule failed [Upstream dependency failed: CostAndUsage-D-006-M]"/>
    </testcase>
    <testcase name="Tags-C-001-M :: FormatKeyValue"><skipped message="not applicable"/></testcase>
    <testcase name="SkuMeter-C-001-M :: TypeString"><skipped message="not applicable"/></testcase>
  </testsuite>
</testsuites>
"""


def test_failures_and_upstream_errors_count_allowlist_applies(tmp_path: Path) -> None:
    path = tmp_path / "report.junit.xml"
    path.write_text(REPORT, encoding="utf-8")
    result = parse_junit(path)
    assert (result.tests, result.failures, result.errors, result.skipped) == (6, 2, 1, 2)
    assert result.failed_rules == ("InvoiceId-C-004-C", "CostAndUsage-D-006-M", "BilledCost-C-000-M")
    assert result.allowlisted == ("InvoiceId-C-004-C",)
    assert result.real_failures == ("CostAndUsage-D-006-M", "BilledCost-C-000-M")
    assert "MUST be present" in result.messages["CostAndUsage-D-006-M"]
    assert not result.ok
    assert "FAIL CostAndUsage-D-006-M" in result.summary()


def test_only_known_bugs_is_ok(tmp_path: Path) -> None:
    path = tmp_path / "report.junit.xml"
    start = REPORT.index('  <testsuite name="CostAndUsage-D">')
    end = REPORT.index("</testsuites>")
    path.write_text(REPORT[:start] + REPORT[end:], encoding="utf-8")
    result = parse_junit(path, KNOWN_VALIDATOR_BUGS)
    assert result.failed_rules == ("InvoiceId-C-004-C",)
    assert result.ok


def test_unavailable_result_is_not_ok() -> None:
    result = FocusValidatorResult(available=False, reason="no python3.12")
    assert not result.ok and "unavailable" in result.summary()
