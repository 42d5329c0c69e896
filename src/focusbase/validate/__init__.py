"""The vectorised FOCUS validator: Arrow or DuckDB rows in, row-level findings out (pure: no storage)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from focusbase.focus import Dataset
from focusbase.validate.engine import ROW_COLUMN, Progress, quick_check, validate_relation
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
    quick: bool = False,
) -> ValidationResult:
    """Validate an Arrow table; finding rows are 1-based data rows plus row_offset.

    With `quick`, a cheaper first pass (no row numbers, no rules implied by others) answers when no rule
    fires at all; only a table with findings is checked again in full. The result is the same either way.
    """
    with duckdb.connect(":memory:") as con:
        con.execute("SET enable_progress_bar = false")
        if quick:
            con.register("__focusbase_input", table)
            clean = quick_check(con, "__focusbase_input", profile=profile, version=version, dataset=dataset)
            con.unregister("__focusbase_input")
            if clean is not None:
                return clean
        numbered = table.append_column(ROW_COLUMN, pa.array(range(1, table.num_rows + 1), type=pa.int64()))
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
