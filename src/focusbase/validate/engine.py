"""Run every rule over a DuckDB relation in one aggregate scan, then fetch details only for what failed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from focusbase.focus import Dataset, check_version
from focusbase.validate.column_rules import KEY_VALUE_COLUMNS, column_rules
from focusbase.validate.columns import Binding, Schema, bind_columns
from focusbase.validate.context import Context, RowRule
from focusbase.validate.cross_rules import cross_rules
from focusbase.validate.dataset_rules import (
    DatasetViolation,
    check_dataset_rule,
    dataset_rules,
    distinct_counts_sql,
)
from focusbase.validate.parsing import (
    DECIMAL_TYPE,
    decimal_scale_sql,
    numeric_format_sql,
    placeholder_sql,
    plain_decimal_sql,
    quote_identifier,
    timestamp_sql,
)
from focusbase.validate.result import PROFILES, Counts, Finding, Profile, ValidationResult

ROW_COLUMN = "__focusbase_row"
BASE_VIEW = "__focusbase_values"
QUICK_PASS_DISABLED_OPTIMIZERS = "join_order,distinct_aggregate_rewrite"

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
    schema, ctx = _prepare(con, relation, profile, version, dataset)
    limit = max(1, max_findings)
    if progress:
        progress("checking rows")
    # Optimistic first pass: values are read as they are. Only when some column turns out to hold null
    # placeholders (`NULL`, blanks) is the table checked again with those cells treated as nulls, so that a
    # placeholder is reported once instead of also failing every format and cross-column rule.
    rules, counts_row = _count(con, ctx, relation, row_sql)
    nulled = frozenset(
        rule.column
        for rule, n in zip(rules, counts_row[1 : 1 + len(rules)], strict=True)
        if n and rule.rule == "null-placeholder"
    )
    if nulled:
        ctx = replace(ctx, nulled=frozenset(c for c in nulled if c is not None))
        rules, counts_row = _count(con, ctx, relation, row_sql)
    if progress:
        progress("collecting findings")
    total_rows, per_rule = _details(con, rules, counts_row, limit)
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
    distinct = counts_row[1 + len(rules) :]
    for index, dataset_rule in enumerate(dataset_rules(ctx)):
        if distinct[2 * index] == distinct[2 * index + 1]:
            continue  # every key has one value: no need for the grouped scan
        violation = check_dataset_rule(con, BASE_VIEW, ctx, dataset_rule, ROW_COLUMN)
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
    con.execute(f"DROP VIEW IF EXISTS {BASE_VIEW}")
    return ValidationResult(
        rows=total_rows,
        findings=_select(found, max_findings, list(ctx.bindings)),
        counts=counts,
        invalid_rows=invalid_rows,
        file_errors=sum(1 for f in schema.findings if f.severity == "error"),
    )


def quick_check(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    *,
    profile: Profile = "strict",
    version: str = "1.3",
    dataset: Dataset = Dataset.COST_AND_USAGE,
) -> ValidationResult | None:
    """One pass without row numbers: the result if no row breaks a rule, else None (run validate_relation).

    This lets a file be checked while it streams in (no table, no row numbers): clean data is the common case.
    """
    schema, ctx = _prepare(con, relation, profile, version, dataset)
    # Planning the one-table aggregate (60 kB of SQL) costs more than running it on a small part; two
    # optimizers that cannot improve it take a third of that: join ordering (there is no join) and the
    # distinct-aggregate rewrite (0.10 s -> 0.07 s to plan and run the pass over 100 rows).
    before = con.execute("SELECT current_setting('disabled_optimizers')").fetchall()[0][0]
    con.execute("SET disabled_optimizers = ?", [QUICK_PASS_DISABLED_OPTIMIZERS])
    try:
        rules, counts_row = _count(con, ctx, relation, "NULL::BIGINT", quick=True)
    finally:
        con.execute("SET disabled_optimizers = ?", [before])
    n_rules = len(rules)
    if any(counts_row[1 : 1 + n_rules]):
        return None
    distinct = counts_row[1 + n_rules :]
    if any(distinct[i] != distinct[i + 1] for i in range(0, len(distinct), 2)):
        return None
    counts = Counts()
    for finding in schema.findings:
        counts.add(finding.rule, finding.severity, 1)
    con.execute(f"DROP VIEW IF EXISTS {BASE_VIEW}")
    return ValidationResult(
        rows=int(counts_row[0]),
        findings=_select(list(schema.findings), 10**9, list(ctx.bindings)),
        counts=counts,
        invalid_rows=[],
        file_errors=sum(1 for f in schema.findings if f.severity == "error"),
    )


GUARD_MESSAGE = "focusbase: a row breaks a FOCUS rule"
NULL_MESSAGE = "focusbase: a cell is empty"


@dataclass(frozen=True, slots=True)
class RowGuard:
    """A relation's rows behind a guard that fails the query at the first row breaking any rule.

    `sql` selects the carried columns of every row, unchanged, and stops the query with GUARD_MESSAGE
    (a DuckDB error) as soon as a row breaks an error rule, or with NULL_MESSAGE at a null in a
    `not_null` column (checked first). The dataset rules, which no single row can break, are checked
    afterwards with `dataset_rules_hold`.
    """

    sql: str
    ctx: Context


def row_guard(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    *,
    carry: Sequence[str],
    not_null: Sequence[str] = (),
    profile: Profile = "strict",
    version: str = "1.3",
    dataset: Dataset = Dataset.COST_AND_USAGE,
) -> RowGuard | None:
    """The guarded rows of `relation`; None when its columns already give an error (validate it in full).

    A query through the guard completes exactly when validating the same rows would find no error at the
    row level: the quick pass's error rules stop it; warnings alone never reject a row, so they do not. A
    null placeholder is the exception: the full validation reads it as a null, which can turn a warning
    (PricingCurrency `NULL` is not a currency code) into an error (a null where a value is required), so a
    placeholder rule the quick pass leaves out as implied is kept when a warning is what implies it.
    """
    schema, ctx = _prepare(con, relation, profile, version, dataset)
    if any(finding.severity == "error" for finding in schema.findings):
        return None
    every = column_rules(ctx) + cross_rules(ctx)
    warned = {rule.column for rule in every if rule.severity == "warning"}
    rules = [
        rule
        for rule in every
        if (rule.severity == "error" and not rule.implied)
        or (rule.rule == "null-placeholder" and rule.column in warned)
    ]
    broken = " OR ".join(f"coalesce({rule.violation}, FALSE)" for rule in rules) or "FALSE"
    empty = " OR ".join(f"{quote_identifier(name)} IS NULL" for name in not_null) or "FALSE"
    columns = ", ".join(quote_identifier(name) for name in carry)
    base = _base_sql(ctx, relation, "NULL::BIGINT", carry)
    sql = (
        f"SELECT {columns} FROM ({base}) "  # noqa: S608 - catalogue and header names only
        # An empty cell first: the ingest fills it before checking, so the rules cannot judge that row.
        f"WHERE CASE WHEN {empty} THEN error('{NULL_MESSAGE}') "
        f"WHEN {broken} THEN error('{GUARD_MESSAGE}') ELSE TRUE END"
    )
    return RowGuard(sql, ctx)


def dataset_rules_hold(con: duckdb.DuckDBPyConnection, guard: RowGuard, relation: str) -> bool:
    """True when no dataset rule of the guard's context that is an error is broken by the rows of `relation`.

    `relation` (a table or view) has the guarded columns under their own names, as text. Over a whole file
    this is stricter than checking each part, so rows it passes would pass part by part too.
    """
    rules = [rule for rule in dataset_rules(guard.ctx) if rule.severity == "error"]
    if not rules:
        return True
    names = sorted({name for rule in rules for name in (rule.key, rule.column)})
    values = ", ".join(f"{quote_identifier(name)} AS {guard.ctx.v(name)}" for name in names)
    counts = [sql for rule in rules for sql in distinct_counts_sql(guard.ctx, rule)]
    row = con.execute(
        f"SELECT {', '.join(counts)} FROM (SELECT {values} FROM {relation})"  # noqa: S608
    ).fetchall()[0]
    return all(row[i] == row[i + 1] for i in range(0, len(row), 2))


def _prepare(
    con: duckdb.DuckDBPyConnection, relation: str, profile: Profile, version: str, dataset: Dataset
) -> tuple[Schema, Context]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use ingest or strict")
    check_version(version)
    if dataset is Dataset.CONTRACT_COMMITMENT and version != "1.3":
        raise ValueError("the Contract Commitment dataset exists from FOCUS 1.3; use --focus-version 1.3")
    described = con.execute(f"DESCRIBE {relation}").fetchall()
    names_and_types = [(str(r[0]), str(r[1])) for r in described if r[0] != ROW_COLUMN]
    schema = bind_columns(names_and_types, profile=profile, version=version, dataset=dataset)
    return schema, Context(profile, version, dataset, schema.bindings)


def _count(
    con: duckdb.DuckDBPyConnection, ctx: Context, relation: str, row_sql: str, *, quick: bool = False
) -> tuple[list[RowRule], tuple[Any, ...]]:
    """Define the value view for `ctx` and count every rule's violations in one pass.

    Pairs of distinct counts for the dataset rules follow the rule counts (equal when the rule holds).
    `quick` leaves out implied rules: enough to tell whether anything at all is wrong.
    """
    con.execute(f"CREATE OR REPLACE TEMP VIEW {BASE_VIEW} AS {_base_sql(ctx, relation, row_sql)}")
    rules = column_rules(ctx) + cross_rules(ctx)
    if quick:
        rules = [rule for rule in rules if not rule.implied]
    # count_if, not count(*) FILTER: DuckDB handles a FILTER clause per aggregate, which is far slower here.
    selected = ["count(*)"] + [f"count_if({rule.violation})" for rule in rules]
    for dataset_rule in dataset_rules(ctx):
        selected.extend(distinct_counts_sql(ctx, dataset_rule))
    counts_sql = ", ".join(selected)
    return rules, con.execute(f"SELECT {counts_sql} FROM {BASE_VIEW}").fetchall()[0]  # noqa: S608


def _base_sql(ctx: Context, relation: str, row_sql: str, carry: Sequence[str] = ()) -> str:
    """Stacked projections so each derived value is computed once per row: values, flags, typed values.

    `carry` columns of the relation pass through every level under their own names.
    """
    values = [f"{row_sql} AS {quote_identifier(ROW_COLUMN)}"]
    values += [quote_identifier(name) for name in carry]
    shapes, flags, exact, typed = ["*"], ["*"], ["*"], ["*"]
    for name, binding in ctx.bindings.items():
        source = quote_identifier(binding.source)
        values.append(f"{source} AS {ctx.raw(name)}")
        if binding.kind != "text":
            values.append(f"CAST({source} AS VARCHAR) AS {ctx.v(name)}")
        elif name in ctx.nulled:
            values.append(f"CASE WHEN {placeholder_sql(source)} THEN NULL ELSE {source} END AS {ctx.v(name)}")
        else:
            values.append(f"{source} AS {ctx.v(name)}")
        v = ctx.v(name)
        if binding.column.data_type == "Decimal" and binding.kind == "text":
            shapes.append(f"{plain_decimal_sql(v)} AS {ctx.plain(name)}")
            flags.append(
                f"(CASE WHEN {ctx.plain(name)} THEN TRUE ELSE {numeric_format_sql(v)} END) AS {ctx.f(name)}"
            )
        if binding.column.data_type == "JSON":
            shapes.append(f"(json_valid({v}) AND prefix(ltrim({v}), '{{')) AS {ctx.f(name)}")
            if name in KEY_VALUE_COLUMNS:
                flags.append(f"CASE WHEN {ctx.f(name)} THEN json_keys({v}) END AS {ctx.keys(name)}")
        if binding.column.data_type == "Decimal":
            exact.append(f"{_exact_sql(ctx, name, binding)} AS {ctx.exact(name)}")
        typed_sql = _typed_sql(ctx, name, binding)
        if typed_sql is not None:
            typed.append(f"{typed_sql} AS {ctx.n(name)}")
    # Identifiers are quoted catalogue or header names; no value from the data is ever spliced in.
    sql = f"SELECT {', '.join(values)} FROM {relation}"  # noqa: S608
    for level in (shapes, flags, exact, typed):
        sql = f"SELECT {', '.join(level)} FROM ({sql})"  # noqa: S608
    return sql


def _exact_sql(ctx: Context, name: str, binding: Binding) -> str:
    """TRUE when the Decimal value is stored exactly by DECIMAL(38,12) (same test as parsing.decimal_sql)."""
    if binding.kind == "text":
        v = ctx.v(name)
        slow = f"{ctx.f(name)} AND {decimal_scale_sql(v)} AND TRY_CAST({v} AS {DECIMAL_TYPE}) IS NOT NULL"
        # CASE, not OR: in a projection DuckDB evaluates both sides of an OR for every row.
        return f"(CASE WHEN {ctx.plain(name)} THEN TRUE ELSE {slow} END)"
    raw = ctx.raw(name)
    if binding.kind == "exact":
        return f"coalesce(TRY_CAST({raw} AS {DECIMAL_TYPE}) = {raw}, FALSE)"
    return f"(TRY_CAST({raw} AS {DECIMAL_TYPE}) IS NOT NULL)"


def _typed_sql(ctx: Context, name: str, binding: Binding) -> str | None:
    data_type, kind, raw, v = binding.column.data_type, binding.kind, ctx.raw(name), ctx.v(name)
    if data_type == "Decimal":
        # Rules compare numbers only by sign, against zero or within a rounding tolerance, so a DOUBLE of a
        # value already proven exact is enough here and far cheaper than DECIMAL(38,12) for every cell.
        return f"CASE WHEN {ctx.exact(name)} THEN TRY_CAST({v if kind == 'text' else raw} AS DOUBLE) END"
    if data_type == "Date/Time":
        if kind == "text":
            return timestamp_sql(v, ctx.profile)
        if kind == "timestamptz":
            return f"timezone('UTC', {raw})"
        return f"CAST({raw} AS TIMESTAMP)"
    return None


def _details(
    con: duckdb.DuckDBPyConnection, rules: list[RowRule], counts: tuple[Any, ...], limit: int
) -> tuple[int, list[tuple[int, list[tuple[int, Any]]]]]:
    """Per rule its count and, for failing rules (one more pass), the first `limit` (row, value) pairs."""
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
    return int(counts[0]), [(int(counts[1 + i] or 0), details.get(i, [])) for i in range(len(rules))]


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
