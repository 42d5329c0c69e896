"""Findings and the result of validating one table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]
Profile = Literal["ingest", "strict"]
PROFILES: tuple[Profile, ...] = ("ingest", "strict")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: the 1-based data row (None for file-level findings), the column, the rule and why."""

    row: int | None
    column: str | None
    rule: str
    severity: Severity
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The finding as the JSON object the CLI and the API return."""
        return {
            "row": self.row,
            "column": self.column,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass(slots=True)
class Counts:
    """Totals over every violation found, including those beyond max_findings."""

    errors: int = 0
    warnings: int = 0
    rules: Counter[str] = field(default_factory=Counter)

    def add(self, rule: str, severity: Severity, count: int) -> None:
        """Add `count` violations of one rule."""
        if count <= 0:
            return
        self.rules[rule] += count
        if severity == "error":
            self.errors += count
        else:
            self.warnings += count

    def to_dict(self) -> dict[str, Any]:
        """Counts as JSON: errors, warnings and violations per rule."""
        return {"errors": self.errors, "warnings": self.warnings, "rules": dict(sorted(self.rules.items()))}


@dataclass(slots=True)
class ValidationResult:
    """Findings (errors first, then by row, at most max_findings of each severity), totals and bad rows."""

    rows: int
    findings: list[Finding]
    counts: Counts
    invalid_rows: list[int]
    file_errors: int = 0

    @property
    def valid(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.counts.errors == 0

    @property
    def errors(self) -> list[Finding]:
        """The error findings kept."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """The warning findings kept."""
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        """The result as the one JSON object `focusbase validate --format json` prints."""
        return {
            "valid": self.valid,
            "rows": self.rows,
            "findings": [f.to_dict() for f in self.findings],
            "counts": self.counts.to_dict(),
        }
