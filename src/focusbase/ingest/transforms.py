"""Mapping transforms as DuckDB SQL expressions over the source columns c0..cN (all VARCHAR).

Every identifier in the generated SQL is ours (`c<i>` for source columns, `o<i>` for outputs); every value
from the user (constants, date formats, tag keys, null strings) is a bound parameter. The output is an
all-string table that the batch service validates and types, so a value that a transform cannot clean is
passed through unchanged and reported by the validator with its row and column, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from focusbase.ingest.mapping import ColumnRule, ImportOptions, ResolvedMapping

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
ISO_UTC_FRACTION = "%Y-%m-%dT%H:%M:%S.%fZ"

# Timestamps that lenientTimestamps accepts; those without a zone are taken as UTC.
LENIENT_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S UTC",
    "%Y-%m-%d %H:%M:%S.%f UTC",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%MZ",
    "%Y-%m-%dT%H:%M%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
)

# '$1,234.50', 'EUR 12', '(5.00)', '1 234,50 kr': drop currency codes and symbols, keep the number alphabet.
_MONEY_STRIP = r"[A-Za-z]{2,}|[^0-9.,+\-eE]"
# Values already in the canonical form, and date-only values, pass through untouched.
_CANONICAL = r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?Z)?"


@dataclass(frozen=True, slots=True)
class Select:
    """A SELECT list over the view `src`, its parameters, and the output column names in order."""

    sql: str
    params: list[Any]
    names: list[str]


class Params:
    """Numbered parameters ($1, $2, ...), so an expression may use one value several times."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def source_ids(header: list[str]) -> dict[str, str]:
    """Source header -> our identifier for it."""
    return {name: f"c{i}" for i, name in enumerate(header)}


def _column(rule: ColumnRule, ids: dict[str, str], params: Params) -> str:
    if rule.source is None:
        return f"CAST({params.add(rule.value)} AS VARCHAR)"
    return ids[rule.source]


def _money(expr: str, options: ImportOptions, params: Params) -> str:
    digits = f"regexp_replace({expr}, {params.add(_MONEY_STRIP)}, '', 'g')"
    digits = (
        f"replace(replace({digits}, '.', ''), ',', '.')"
        if options.decimal_comma
        else f"replace({digits}, ',', '')"
    )
    # A value in parentheses is negative, as accountants write it.
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL "
        f"WHEN contains({expr}, '(') AND contains({expr}, ')') THEN '-' || ltrim({digits}, '-') "
        f"ELSE {digits} END"
    )


def _iso(parsed: str, params: Params) -> str:
    whole, fraction = params.add(ISO_UTC), params.add(ISO_UTC_FRACTION)
    return (
        f"CASE WHEN microsecond({parsed}) % 1000000 = 0 THEN strftime({parsed}, {whole}) "
        f"ELSE strftime({parsed}, {fraction}) END"
    )


def _timestamp(expr: str, rule: ColumnRule, options: ImportOptions, params: Params) -> str:
    if rule.date_format is not None:
        parsed = f"try_strptime({expr}, {params.add(rule.date_format)})"
        return f"coalesce({_iso(parsed, params)}, {expr})"
    if options.lenient_timestamps:
        parsed = f"try_strptime({expr}, {params.add(list(LENIENT_FORMATS))})"
        canonical = params.add(_CANONICAL)
        iso = _iso(parsed, params)
        return (
            f"CASE WHEN regexp_full_match({expr}, {canonical}) THEN {expr} ELSE coalesce({iso}, {expr}) END"
        )
    return expr


def _tags(resolved: ResolvedMapping, ids: dict[str, str], params: Params) -> str | None:
    base = _column(resolved.tags_rule, ids, params) if resolved.tags_rule is not None else None
    if not resolved.tag_sources:
        return base
    entries = []
    for key, source in resolved.tag_sources:
        entries.append(f"struct_pack(k := {params.add(key)}, v := {ids[source]})")
    listed = f"list_filter([{', '.join(entries)}], lambda e: e.v IS NOT NULL)"
    built = (
        f"CASE WHEN len({listed}) = 0 THEN NULL ELSE CAST(to_json(map_from_entries({listed})) AS VARCHAR) END"
    )
    if base is None:
        return built
    # Columns win over keys of the same name in the JSON column; an invalid JSON column passes through.
    return (
        f"CASE WHEN {base} IS NULL THEN {built} WHEN {built} IS NULL OR NOT json_valid({base}) THEN {base} "
        f"ELSE CAST(json_merge_patch({base}, {built}) AS VARCHAR) END"
    )


def build_select(resolved: ResolvedMapping, header: list[str]) -> Select:
    """The SELECT list that turns source columns into the mapped, cleaned output columns."""
    ids = source_ids(header)
    options = resolved.mapping.options
    params = Params()
    parts: list[str] = []
    names: list[str] = []
    for out in resolved.outputs:
        expr = _column(out.rule, ids, params)
        if out.rule.source is not None:
            if out.data_type == "Decimal" and out.rule.number == "money":
                expr = _money(expr, options, params)
            elif out.data_type == "Date/Time":
                expr = _timestamp(expr, out.rule, options, params)
        parts.append(f"{expr} AS o{len(names)}")
        names.append(out.name)
    tags = _tags(resolved, ids, params)
    if tags is not None:
        parts.append(f"{tags} AS o{len(names)}")
        names.append("Tags")
    if not parts:
        parts.append("NULL AS o0")
        names.append("_empty")
    return Select(", ".join(parts), params.values, names)
