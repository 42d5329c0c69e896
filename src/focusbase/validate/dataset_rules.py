"""Rules over the whole table: one ServiceCategory per ServiceName, one SkuId per SkuPriceId.

The value most rows use for a key is taken as intended; the rows of the minority values are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from focusbase.focus import allowed_service_subcategories
from focusbase.validate.context import Context
from focusbase.validate.parsing import one_of_sql, quote_identifier
from focusbase.validate.result import Severity


@dataclass(frozen=True, slots=True)
class DatasetRule:
    """Each value of `key` must go with exactly one value of `column`."""

    rule: str
    key: str
    column: str
    severity: Severity
    rm12: str
    # Only these values of `column` take part (a value outside them is the allowed-value rule's finding).
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DatasetViolation:
    """Rows breaking a dataset rule (1-based, before row_offset), their key and value, each key's majority."""

    rule: DatasetRule
    rows: list[int]
    keys: list[str]
    values: list[str]
    majority: dict[str, str]

    def message(self, index: int) -> str:
        """The message for the index-th offending row."""
        key, value = self.keys[index], self.values[index]
        return (
            f'{self.rule.key} "{key}" maps to more than one {self.rule.column}: this row has "{value}", '
            f'most rows have "{self.majority[key]}" [{self.rule.rm12}]'
        )


def dataset_rules(ctx: Context) -> list[DatasetRule]:
    """The dataset-level rules that apply to the context."""
    rules = []
    if ctx.has("ServiceName", "ServiceCategory") and ctx.since("1.2"):
        rules.append(
            DatasetRule(
                "service-name-one-category",
                "ServiceName",
                "ServiceCategory",
                "error",
                "ServiceName-C-005-C",
                ctx.bindings["ServiceCategory"].column.allowed_values,
            )
        )
    if ctx.has("ServiceName", "ServiceSubcategory") and ctx.since("1.2"):
        # SHOULD in the specification, so a warning.
        subcategories = tuple(sub for sub in allowed_service_subcategories())
        rules.append(
            DatasetRule(
                "service-name-one-subcategory",
                "ServiceName",
                "ServiceSubcategory",
                "warning",
                "ServiceName-C-008-C",
                subcategories,
            )
        )
    if ctx.has("CommitmentDiscountId", "CommitmentDiscountUnit") and ctx.since("1.2"):
        rules.append(
            DatasetRule(
                "commitment-unit-one-per-id",
                "CommitmentDiscountId",
                "CommitmentDiscountUnit",
                "warning",
                "CommitmentDiscountUnit-C-008-M",
            )
        )
    if ctx.has("SkuPriceId", "SkuId") and ctx.since("1.1"):
        rules.append(DatasetRule("sku-price-one-sku", "SkuPriceId", "SkuId", "error", "SkuPriceId-C-008-M"))
    return rules


def distinct_counts_sql(ctx: Context, rule: DatasetRule) -> tuple[str, str]:
    """Two aggregates, equal exactly when each key has one value: distinct keys, distinct (key, value)."""
    key, val = ctx.v(rule.key), ctx.v(rule.column)
    only = f" AND {one_of_sql(val, rule.allowed)}" if rule.allowed else ""
    both = f"{key} IS NOT NULL AND {val} IS NOT NULL{only}"
    return (
        f"count(DISTINCT CASE WHEN {both} THEN {key} END)",
        f"count(DISTINCT CASE WHEN {both} THEN {{'k': {key}, 'v': {val}}} END)",
    )


def check_dataset_rule(
    con: duckdb.DuckDBPyConnection, base: str, ctx: Context, rule: DatasetRule, row_column: str
) -> DatasetViolation:
    """Find the minority rows of one dataset rule (one grouped scan; a join only when something conflicts)."""
    key, val = ctx.v(rule.key), ctx.v(rule.column)
    only = f" AND {one_of_sql(val, rule.allowed)}" if rule.allowed else ""
    pairs = con.execute(
        f"WITH pairs AS (SELECT {key} AS k, {val} AS val, count(*) AS n FROM {base} "  # noqa: S608
        f"WHERE {key} IS NOT NULL AND {val} IS NOT NULL{only} GROUP BY ALL) "
        "SELECT k, val, n FROM pairs WHERE k IN (SELECT k FROM pairs GROUP BY k HAVING count(*) > 1) "
        "ORDER BY k, n DESC, val"
    ).fetchall()
    if not pairs:
        return DatasetViolation(rule, [], [], [], {})
    majority: dict[str, str] = {}
    minority_keys, minority_values = [], []
    for k, value, _n in pairs:
        if k not in majority:
            majority[k] = value
        else:
            minority_keys.append(k)
            minority_values.append(value)
    con.register("__minority", pa.table({"k": minority_keys, "val": minority_values}))
    try:
        found = con.sql(
            f"SELECT b.{quote_identifier(row_column)}, m.k, m.val FROM {base} b JOIN __minority m "  # noqa: S608
            f"ON b.{key} = m.k AND b.{val} = m.val ORDER BY 1"
        ).to_arrow_table()
    finally:
        con.unregister("__minority")
    return DatasetViolation(
        rule,
        found.column(0).to_pylist(),
        found.column(1).to_pylist(),
        found.column(2).to_pylist(),
        majority,
    )
