"""The vectorised FOCUS validator: Arrow or DuckDB rows in, row-level findings out (pure: no storage)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from focusbase.focus import Dataset
from focusbase.validate.engine import ROW_COLUMN, Progress, validate_relation
from focusbase.validate.result import PROFILES, Counts, Finding, Profile, Severity, ValidationResult

__all__ = [
    "PROFILES",
    "Counts",
    "Finding",
    "Profile",
    "Severity",
    "ValidationResult",
    "validate_relation",
    "validate_table",
]


def validate_table(
    table: pa.Table,
    *,
    profile: Profile = "strict",
    version: str = "1.3",
    dataset: Dataset = Dataset.COST_AND_USAGE,
    max_findings: int = 1000,
    row_offset: int = 0,
    progress: Progress | None = None,
) -> ValidationResult:
    """Validate an Arrow table; finding rows are 1-based data rows plus row_offset."""
    numbered = table.append_column(ROW_COLUMN, pa.array(range(1, table.num_rows + 1), type=pa.int64()))
    with duckdb.connect(":memory:") as con:
        con.execute("SET enable_progress_bar = false")
        con.register("__focusbase_input", numbered)
        return validate_relation(
            con,
            "__focusbase_input",
            row_sql=f'"{ROW_COLUMN}"',
            profile=profile,
            version=version,
            dataset=dataset,
            max_findings=max_findings,
            row_offset=row_offset,
            progress=progress,
        )
