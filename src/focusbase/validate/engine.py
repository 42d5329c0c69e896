"""Run every rule over a DuckDB relation in one aggregate scan, then fetch details only for what failed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb

from focusbase.focus import Dataset, check_version
from focusbase.validate.column_rules import column_rules
from focusbase.validate.columns import Binding, bind_columns
from focusbase.validate.context import Context, RowRule
from focusbase.validate.cross_rules import cross_rules
from focusbase.validate.dataset_rules import DatasetViolation, check_dataset_rule, dataset_rules
from focusbase.validate.parsing import (
    DECIMAL_TYPE,
    decimal_scale_sql,
    numeric_format_sql,
    placeholder_sql,
    quote_identifier,
    timestamp_sql,
)
from focusbase.validate.result import PROFILES, Counts, Finding, Profile, ValidationResult

ROW_COLUMN = "__row"
BASE_VIEW = "__focusbase_values"

Progress = Callable[[str], None]


def validate_relation(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    *,
    row_sql: str,
    profile: Profile = "strict",
    version: str = "1.3",
    dataset: Dataset = Dataset.COST_AND_USAGE,
    max_findings: int = 1000,
    row_offset: int = 0,
    progress: Progress | None = None,
) -> ValidationResult:
    """Validate the rows of `relation` (a table or view in `con`); `row_sql` numbers rows from 1."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use ingest or strict")
    check_version(version)
    if dataset is Dataset.CONTRACT_COMMITMENT and version != "1.3":
        raise ValueError("the Contract Commitment dataset exists from FOCUS 1.3; use --focus-version 1.3")
    described = con.execute(f"DESCRIBE {relation}").fetchall()
    names_and_types = [(str(r[0]), str(r[1])) for r in described if r[0] != ROW_COLUMN]
    schema = bind_columns(names_and_types, profile=profile, version=version, dataset=dataset)
    ctx = Context(profile, version, dataset, schema.bindings)
    if progress:
        progress("reading values")
    # Materialised once: the typed values and format flags are then read by every rule without recomputation.
    con.execute(f"CREATE OR REPLACE TEMP TABLE {BASE_VIEW} AS {_base_sql(ctx, relation, row_sql)}")
    rules = column_rules(ctx) + cross_rules(ctx)
    limit = max(1, max_findings)
    if progress:
        progress("checking rows")
    total_rows, per_rule = _scan(con, rules, limit)
    counts = Counts()
    for finding in schema.findings:
        counts.add(finding.rule, finding.severity, 1)
    found: list[Finding] = list(schema.findings)
    failing: list[RowRule] = []
    for rule, (count, details) in zip(rules, per_rule, strict=True):
        if not count:
            continue
        counts.add(rule.rule, rule.severity, count)
        if rule.severity == "error":
            failing.append(rule)
        for row, value in details:
            found.append(Finding(row + row_offset, rule.column, rule.rule, rule.severity, rule.render(value)))
    if progress:
        progress("checking the dataset")
    violations: list[DatasetViolation] = []
    for dataset_rule in dataset_rules(ctx):
        violation = check_dataset_rule(con, BASE_VIEW, ctx, dataset_rule)
        if not violation.rows:
            continue
        violations.append(violation)
        counts.add(dataset_rule.rule, dataset_rule.severity, len(violation.rows))
        for index, row in enumerate(violation.rows[:limit]):
            found.append(
                Finding(
                    row + row_offset,
                    dataset_rule.column,
                    dataset_rule.rule,
                    dataset_rule.severity,
                    violation.message(index),
                )
            )
    if progress:
        progress("listing invalid rows")
    invalid_rows = _invalid_rows(con, failing, violations, row_offset)
    con.execute(f"DROP TABLE IF EXISTS {BASE_VIEW}")
    return ValidationResult(
        rows=total_rows,
        findings=_select(found, max_findings, list(ctx.bindings)),
        counts=counts,
        invalid_rows=invalid_rows,
        file_errors=sum(1 for f in schema.findings if f.severity == "error"),
    )


def _base_sql(ctx: Context, relation: str, row_sql: str) -> str:
    """Three stacked projections: values (placeholders nulled), format flags, typed values."""
    values, flags, typed = [f"{row_sql} AS {quote_identifier(ROW_COLUMN)}"], ["*"], ["*"]
    for name, binding in ctx.bindings.items():
        source = quote_identifier(binding.source)
        if binding.kind == "text":
            values.append(f"CASE WHEN {placeholder_sql(source)} THEN {source} END AS {ctx.placeholder(name)}")
            values.append(f"CASE WHEN {placeholder_sql(source)} THEN NULL ELSE {source} END AS {ctx.v(name)}")
        else:
            values.append(f"{source} AS {ctx.raw(name)}")
            values.append(f"CAST({source} AS VARCHAR) AS {ctx.v(name)}")
        if binding.column.data_type == "Decimal" and binding.kind == "text":
            flags.append(f"{numeric_format_sql(ctx.v(name))} AS {ctx.f(name)}")
        if binding.column.data_type == "JSON":
            v = ctx.v(name)
            flags.append(
                f"(CASE WHEN json_valid({v}) THEN json_type({v}) = 'OBJECT' ELSE FALSE END) AS {ctx.f(name)}"
            )
        typed_sql = _typed_sql(ctx, name, binding)
        if typed_sql is not None:
            typed.append(f"{typed_sql} AS {ctx.n(name)}")
    # Identifiers are quoted catalogue or header names; no value from the data is ever spliced in.
    level1 = f"SELECT {', '.join(values)} FROM {relation}"  # noqa: S608
    level2 = f"SELECT {', '.join(flags)} FROM ({level1})"  # noqa: S608
    return f"SELECT {', '.join(typed)} FROM ({level2})"  # noqa: S608


def _typed_sql(ctx: Context, name: str, binding: Binding) -> str | None:
    data_type, kind, raw, v = binding.column.data_type, binding.kind, ctx.raw(name), ctx.v(name)
    if data_type == "Decimal":
        if kind == "text":
            return (
                f"CASE WHEN {ctx.f(name)} AND {decimal_scale_sql(v)} THEN TRY_CAST({v} AS {DECIMAL_TYPE}) END"
            )
        return f"TRY_CAST({raw} AS {DECIMAL_TYPE})"
    if data_type == "Date/Time":
        if kind == "text":
            return timestamp_sql(v, ctx.profile)
        if kind == "timestamptz":
            return f"timezone('UTC', {raw})"
        return f"CAST({raw} AS TIMESTAMP)"
    return None


def _scan(
    con: duckdb.DuckDBPyConnection, rules: list[RowRule], limit: int
) -> tuple[int, list[tuple[int, Any]]]:
    """Per rule the violation count (one pass), then the first `limit` (row, value) pairs of failing rules."""
    counts_sql = ", ".join(["count(*)"] + [f"count(*) FILTER (WHERE {rule.violation})" for rule in rules])
    counts = con.execute(f"SELECT {counts_sql} FROM {BASE_VIEW}").fetchall()[0]  # noqa: S608
    failing = [i for i in range(len(rules)) if counts[1 + i]]
    details: dict[int, list[tuple[int, Any]]] = {}
    if failing:
        row = quote_identifier(ROW_COLUMN)
        select = []
        for i in failing:
            value = rules[i].value or "NULL::VARCHAR"
            pair = f"{{'r': {row}, 'v': {value}::VARCHAR}}"
            select.append(f"min_by({pair}, {row}, {limit}) FILTER (WHERE {rules[i].violation})")
        firsts = con.execute(f"SELECT {', '.join(select)} FROM {BASE_VIEW}").fetchall()[0]  # noqa: S608
        for i, pairs in zip(failing, firsts, strict=True):
            details[i] = [(int(pair["r"]), pair["v"]) for pair in pairs or []]
    return int(counts[0]), [(int(counts[1 + i]), details.get(i, [])) for i in range(len(rules))]


def _invalid_rows(
    con: duckdb.DuckDBPyConnection,
    failing: list[RowRule],
    violations: list[DatasetViolation],
    row_offset: int,
) -> list[int]:
    """Every row with at least one error, sorted (not truncated)."""
    rows: set[int] = set()
    if failing:
        predicate = " OR ".join(f"({rule.violation})" for rule in failing)
        table = con.sql(
            f"SELECT {quote_identifier(ROW_COLUMN)} FROM {BASE_VIEW} WHERE {predicate}"  # noqa: S608
        ).to_arrow_table()
        rows.update(table.column(0).to_pylist())
    for violation in violations:
        if violation.rule.severity == "error":
            rows.update(violation.rows)
    return [r + row_offset for r in sorted(rows)]


def _select(found: list[Finding], max_findings: int, order: list[str]) -> list[Finding]:
    """Errors then warnings, each sorted by row and column order and cut at max_findings."""
    position = {name: i for i, name in enumerate(order)}

    def key(f: Finding) -> tuple[int, int, str]:
        return (f.row or 0, position.get(f.column or "", len(position)), f.rule)

    errors = sorted((f for f in found if f.severity == "error"), key=key)[:max_findings]
    warnings = sorted((f for f in found if f.severity == "warning"), key=key)[:max_findings]
    return errors + warnings
