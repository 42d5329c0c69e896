"""Checks on one column at a time: placeholders, nulls, number and date-time formats, allowed values, JSON."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import cache

import pycountry

from focusbase.focus import Column, Dataset
from focusbase.validate.columns import Binding
from focusbase.validate.context import Context, RowRule, show
from focusbase.validate.parsing import DECIMAL_TYPE, one_of_sql, placeholder_sql
from focusbase.validate.rm12 import rm12_id

KEY_VALUE_COLUMNS = ("Tags", "SkuPriceDetails", "AllocatedTags")
ELEMENTS_COLUMNS = ("ContractApplied", "AllocatedMethodDetails")
# Keys FOCUS 1.3 defines inside each Elements object (errata 1.3 #3: `Id`; the printed `ID` is accepted too).
ELEMENT_KEYS = {
    "ContractApplied": (
        "ContractId",
        "ContractCommitmentId",
        "ContractCommitmentAppliedCost",
        "ContractCommitmentAppliedQuantity",
        "ContractCommitmentAppliedUnit",
        "ContractID",
        "ContractCommitmentID",
    ),
    "AllocatedMethodDetails": ("AllocatedRatio", "UsageQuantity", "UsageUnit"),
}
SKU_PRICE_DETAILS_KEYS = (
    "CoreCount",
    "DiskMaxIops",
    "DiskSpace",
    "DiskType",
    "GpuCount",
    "InstanceType",
    "InstanceSeries",
    "MemorySize",
    "NetworkMaxIops",
    "NetworkMaxThroughput",
    "OperatingSystem",
    "Redundancy",
    "StorageClass",
)
COMMON_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CNY", "INR", "AUD", "CAD", "CHF", "BRL")
NON_NEGATIVE = (
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingCurrencyListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
)


@cache
def currency_codes() -> tuple[str, ...]:
    """ISO 4217 alphabetic codes (from pycountry, maintained upstream)."""
    return tuple(sorted(c.alpha_3 for c in pycountry.currencies))


def allowed_values(col: Column) -> tuple[str, ...]:
    """The allowed values of an enumerated column (ServiceSubcategory: the subcategory names)."""
    if col.name == "ServiceSubcategory":
        return tuple(v.split(">", 1)[1] for v in col.allowed_values)
    return col.allowed_values


def near_miss(value: str, allowed: tuple[str, ...]) -> str | None:
    """The allowed value a bad value most likely meant (case, spacing or a small typo), if any."""
    squashed = {a.lower().replace(" ", "").replace("-", ""): a for a in allowed}
    key = value.strip().lower().replace(" ", "").replace("-", "").replace("_", "")
    if key in squashed:
        return squashed[key]
    close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.75)
    return close[0] if close else None


def _allowed_describer(name: str, allowed: tuple[str, ...]) -> Callable[[str | None], str]:
    def describe(value: str | None) -> str:
        text = f"{name} {show(value)} is not an allowed value"
        hint = near_miss(value or "", allowed)
        if hint is not None:
            return f'{text}; did you mean "{hint}"? (values are case-sensitive)'
        listed = ", ".join(allowed) if len(allowed) <= 8 else ", ".join(allowed[:8]) + ", ..."
        return f"{text} (allowed: {listed})"

    return describe


def column_rules(ctx: Context) -> list[RowRule]:
    """Every single-column rule for the columns present."""
    rules: list[RowRule] = []
    for name, binding in ctx.bindings.items():
        rules.extend(_null_rules(ctx, name, binding))
        if binding.column.data_type == "Decimal":
            rules.extend(_decimal_rules(ctx, name, binding))
        elif binding.column.data_type == "Date/Time":
            rules.extend(_datetime_rules(ctx, name, binding))
        elif binding.column.data_type == "JSON":
            rules.extend(_json_rules(ctx, name))
        allowed = allowed_values(binding.column)
        if allowed:
            rules.append(
                RowRule(
                    "allowed-value",
                    name,
                    "error",
                    f"NOT {one_of_sql(ctx.v(name), allowed)}",
                    "",
                    value=ctx.v(name),
                    rm12=rm12_id("allowed", name)
                    or ("ChargeClass-C-005-C" if name == "ChargeClass" else None),
                    describe=_allowed_describer(name, allowed),
                )
            )
    rules.extend(_currency_rules(ctx))
    for name in NON_NEGATIVE:
        if ctx.has(name):
            rules.append(
                RowRule(
                    "unit-price-negative",
                    name,
                    "error",
                    f"{ctx.n(name)} < 0",
                    f"{name} is negative ({{value}}); unit prices must be >= 0",
                    value=ctx.v(name),
                    rm12=rm12_id("nonneg", name),
                )
            )
    return rules


def _null_rules(ctx: Context, name: str, binding: Binding) -> list[RowRule]:
    rules = []
    if binding.kind == "text":
        rules.append(
            RowRule(
                "null-placeholder",
                name,
                "error",
                placeholder_sql(ctx.raw(name)),
                f"{name} holds {{value}} as a stand-in for null; FOCUS nulls are empty cells (NullHandling)",
                value=ctx.raw(name),
                implied=binding.column.data_type != "String"
                or bool(allowed_values(binding.column))
                or name in ("BillingCurrency", "PricingCurrency"),
            )
        )
    if not binding.column.nullable:
        rules.append(
            RowRule(
                "not-null",
                name,
                "error",
                f"{ctx.raw(name)} IS NULL",
                f"{name} is null; it must have a value",
                rm12=rm12_id("not_null", name),
            )
        )
    return rules


def _decimal_rules(ctx: Context, name: str, binding: Binding) -> list[RowRule]:
    if binding.kind == "text":
        return [
            RowRule(
                "numeric-format",
                name,
                "error",
                f"{ctx.v(name)} IS NOT NULL AND NOT {ctx.f(name)}",
                f"{name} {{value}} is not a FOCUS number (digits, optional '-' and '.', E-notation such as "
                "35.2E-7; no '+', thousands separators, currency symbols or spaces)",
                value=ctx.v(name),
                rm12=rm12_id("format", name),
            ),
            RowRule(
                "decimal-precision",
                name,
                "error",
                f"{ctx.f(name)} AND NOT {ctx.exact(name)}",
                f"{name} {{value}} has more than 12 decimal places or is too large for {DECIMAL_TYPE}; "
                "it would have to be rounded",
                value=ctx.v(name),
            ),
        ]
    if binding.kind == "exact":
        return [
            RowRule(
                "decimal-precision",
                name,
                "error",
                f"{ctx.raw(name)} IS NOT NULL AND NOT {ctx.exact(name)}",
                f"{name} {{value}} has more than 12 decimal places or is too large for {DECIMAL_TYPE}; "
                "it would have to be rounded",
                value=f"CAST({ctx.raw(name)} AS VARCHAR)",
            )
        ]
    return []


def _datetime_rules(ctx: Context, name: str, binding: Binding) -> list[RowRule]:
    if binding.kind != "text":
        return []
    shape = "YYYY-MM-DDTHH:mm:ssZ" if ctx.profile == "strict" else "ISO 8601 in UTC or YYYY-MM-DD"
    return [
        RowRule(
            "datetime-format",
            name,
            "error",
            f"{ctx.v(name)} IS NOT NULL AND {ctx.n(name)} IS NULL",
            f"{name} {{value}} is not a valid UTC date-time in the form {shape}",
            value=ctx.v(name),
            rm12=rm12_id("format", name),
        )
    ]


def _duplicate_keys(ctx: Context, name: str) -> str:
    """TRUE when a JSON object's key list (from json_keys) names a key twice."""
    keys = ctx.keys(name)
    # Objects of up to four keys (nearly all tags) compare their keys pairwise; longer ones ask whether each
    # key first occurs earlier. Both are 4x cheaper than counting list_distinct, which hashes every row.
    cases = " ".join(
        f"WHEN {n} THEN "
        + " OR ".join(f"{keys}[{i}] = {keys}[{j}]" for i in range(1, n + 1) for j in range(i + 1, n + 1))
        for n in range(2, 5)
    )
    later = f"list_transform(range(2, len({keys}) + 1), lambda i: list_position({keys}, {keys}[i]) < i)"
    return f"(CASE len({keys}) WHEN 0 THEN FALSE WHEN 1 THEN FALSE {cases} ELSE list_bool_or({later}) END)"


def _json_rules(ctx: Context, name: str) -> list[RowRule]:
    v = ctx.v(name)
    is_object = ctx.f(name)
    rules = [
        RowRule(
            "json-object",
            name,
            "error",
            f"{v} IS NOT NULL AND NOT {is_object}",
            f"{name} {{value}} is not a JSON object",
            value=v,
            rm12=rm12_id("format", name),
        )
    ]
    nested = "['OBJECT', 'ARRAY']"
    if name in KEY_VALUE_COLUMNS:
        rules.append(
            RowRule(
                "key-value-format",
                name,
                "error",
                # CASE, not AND: DuckDB may reorder a conjunction and parse a value that is not JSON.
                f"CASE WHEN NOT {is_object} THEN FALSE "
                f"WHEN strpos(substr({v}, 2), '{{') > 0 OR strpos({v}, '[') > 0 "
                f"THEN list_has_any(json_type({v}, '$.*'), {nested}) OR {_duplicate_keys(ctx, name)} "
                f"ELSE {_duplicate_keys(ctx, name)} END",
                f"{name} {{value}} breaks KeyValueFormat: values must be strings, numbers, booleans or null "
                "(no nested objects or arrays) and keys must be unique",
                value=v,
                rm12=rm12_id("format", name),
            )
        )
    if name == "SkuPriceDetails" and ctx.since("1.2"):
        rules.append(
            RowRule(
                "sku-price-details-key",
                name,
                "error",
                f"{v} IS NOT NULL AND (CASE WHEN {is_object} THEN len(list_filter({ctx.keys(name)}, "
                f"lambda k: NOT ({one_of_sql('k', SKU_PRICE_DETAILS_KEYS)} OR starts_with(k, 'x_')))) > 0 "
                "ELSE FALSE END)",
                f"{name} {{value}} has a key that is neither FOCUS-defined "
                f"({', '.join(SKU_PRICE_DETAILS_KEYS)}) nor prefixed x_",
                value=v,
            )
        )
    if name in ELEMENTS_COLUMNS:
        rules.append(
            RowRule(
                "json-elements",
                name,
                "error",
                f"{v} IS NOT NULL AND (CASE WHEN {is_object} THEN "
                f"json_type({v}, '$.Elements') IS DISTINCT FROM 'ARRAY' "
                f"OR len(list_filter(json_type({v}, '$.Elements[*]'), lambda t: t <> 'OBJECT')) > 0 "
                f"OR list_has_any(json_type({v}, '$.Elements[*].*'), {nested}) ELSE FALSE END)",
                f"{name} {{value}} must be an object whose Elements key holds an array of flat objects "
                "(JsonObjectFormat, KeyValueFormat per element)",
                value=v,
            )
        )
    if name in ELEMENT_KEYS:
        rules.append(_element_keys_rule(ctx, name))
    return rules


def _element_keys_rule(ctx: Context, name: str) -> RowRule:
    v = ctx.v(name)
    elements = f"json_extract({v}, '$.Elements[*]')"
    keys = f"flatten(list_transform({elements}, lambda e: json_keys(e)))"
    unknown = (
        f"len(list_filter({keys}, lambda k: NOT ({one_of_sql('k', ELEMENT_KEYS[name])} "
        "OR starts_with(k, 'x_')))) > 0"
    )
    if name == "AllocatedMethodDetails":
        unknown += (
            f" OR NOT list_bool_and(list_transform({elements}, lambda e: json_exists(e, '$.AllocatedRatio')))"
        )
    listed = ", ".join(ELEMENT_KEYS[name][:5])
    return RowRule(
        "json-element-keys",
        name,
        "error",
        # Only for a well-formed Elements array of objects; anything else is the json-elements finding.
        f"CASE WHEN {ctx.f(name)} AND json_type({v}, '$.Elements') = 'ARRAY' "
        f"AND len(list_filter(json_type({v}, '$.Elements[*]'), lambda t: t <> 'OBJECT')) = 0 "
        f"THEN {unknown} ELSE FALSE END",
        f"{name} {{value}} has an element key that is neither FOCUS-defined ({listed}) nor prefixed x_"
        + (", or an element without AllocatedRatio" if name == "AllocatedMethodDetails" else ""),
        value=v,
    )


def _not_currency_sql(text: str) -> str:
    # The few currencies nearly all bills use are tested first, sparing the lookup in the full ISO list.
    common = one_of_sql(text, COMMON_CURRENCIES)
    return f"(CASE WHEN {common} THEN FALSE ELSE NOT {one_of_sql(text, currency_codes())} END)"


def _currency_rules(ctx: Context) -> list[RowRule]:
    rules = []
    if ctx.has("BillingCurrency"):
        rules.append(
            RowRule(
                "currency-code",
                "BillingCurrency",
                "error",
                _not_currency_sql(ctx.v("BillingCurrency")),
                "BillingCurrency {value} is not an ISO 4217 currency code (a national currency is required)",
                value=ctx.v("BillingCurrency"),
                rm12=None if ctx.dataset is Dataset.CONTRACT_COMMITMENT else "BillingCurrency-C-006-M",
            )
        )
    if ctx.has("PricingCurrency"):
        rules.append(
            RowRule(
                "currency-code",
                "PricingCurrency",
                "warning",
                _not_currency_sql(ctx.v("PricingCurrency")),
                "PricingCurrency {value} is not an ISO 4217 code; fine only if it is a virtual currency",
                value=ctx.v("PricingCurrency"),
                rm12=rm12_id("currency", "PricingCurrency"),
            )
        )
    return rules
