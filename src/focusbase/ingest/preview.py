"""Previewing a file import: what the file is, how it would be mapped, what the validator says of a sample.

Nothing is stored: the preview reads the first rows through the mapping an import would apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from focusbase.focus import LATEST_VERSION, Dataset
from focusbase.ingest.imports import ImportPlan, discard_copies, file_error, plan_import
from focusbase.ingest.mapping import ImportOptions, Mapping
from focusbase.ingest.normalise import ColumnError, canonical_columns
from focusbase.ingest.reader import open_reader
from focusbase.ingest.sniff import ImportFileError
from focusbase.runtime import Runtime
from focusbase.tenancy.providers import Provider
from focusbase.validate import validate_table

PREVIEW_ROWS = 20
VALIDATION_SAMPLE_ROWS = 1000
MAX_FINDINGS = 100


def preview_import(
    runtime: Runtime,
    provider: Provider,
    path: Path,
    *,
    file_name: str | None,
    file_size: int,
    dataset: Dataset,
    mapping: Mapping | None = None,
    options: ImportOptions | None = None,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """What an import of this file would do: file shape, proposals, mapping, first rows, sample findings."""
    plan = plan_import(
        runtime,
        provider,
        path,
        file_name=file_name,
        dataset=dataset,
        mapping=mapping,
        options=options,
        work_dir=work_dir,
    )
    try:
        return _preview(plan, file_name, file_size)
    finally:
        discard_copies(plan.shape)


def _preview(plan: ImportPlan, file_name: str | None, file_size: int) -> dict[str, Any]:
    dataset = plan.dataset
    rows: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    finding_count = 0
    sample_rows = 0
    if plan.resolved is not None:
        try:
            with open_reader(plan.shape, plan.mapping.options) as reader:
                sample = reader.sample(plan.resolved, VALIDATION_SAMPLE_ROWS)
        except ImportFileError as exc:
            raise file_error(exc) from None
        sample_rows = sample.num_rows
        rows = sample.slice(0, PREVIEW_ROWS).to_pylist()
        findings, finding_count = _sample_findings(sample, dataset)
    return {
        "file": {"name": file_name, "size": file_size, **plan.shape.to_json()},
        "dataset": dataset.value,
        "detectedExport": plan.export.to_json() if plan.export else None,
        "mappingSource": plan.origin,
        "savedMappingUpdatedAt": plan.saved_at,
        "mapping": plan.mapping.to_json(),
        "proposals": [p.to_json() for p in plan.match.proposals],
        "suggestedMapping": plan.match.suggested.to_json(),
        "unmappedColumns": list(plan.match.unmapped),
        "problems": plan.problems,
        "notes": plan.notes,
        "rows": rows,
        "sampleRows": sample_rows,
        "findings": findings,
        "findingCount": finding_count,
    }


def _sample_findings(sample: pa.Table, dataset: Dataset) -> tuple[list[dict[str, Any]], int]:
    try:
        table = canonical_columns(sample, dataset)
    except ColumnError as exc:
        first = exc.columns[0]
        return [
            {"row": None, "column": first, "rule": "unknown_column", "severity": "error", "message": str(exc)}
        ], 1
    checked = validate_table(
        table, profile="ingest", version=LATEST_VERSION, dataset=dataset, max_findings=MAX_FINDINGS
    )
    findings = [
        {"row": f.row, "column": f.column, "rule": f.rule, "severity": f.severity, "message": f.message}
        for f in checked.findings
    ]
    return findings[:MAX_FINDINGS], int(checked.counts.errors)
