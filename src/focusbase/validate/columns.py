"""Bind a table's columns to FOCUS column definitions and report file-level column problems."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from focusbase.focus import (
    VERSIONS,
    Column,
    Dataset,
    all_column_names,
    columns,
    is_custom_column,
    latest_column,
    rename_for,
)
from focusbase.focus.renames import SEED_COST_AND_USAGE_NAMES
from focusbase.validate.result import Finding, Profile

Kind = Literal["text", "exact", "float", "timestamp", "timestamptz", "date", "null", "other"]

_RENAMED_DUPLICATE = re.compile(r"(.+)_[0-9]+")

# The columns the push (ingest) profile cannot do without.
INGEST_REQUIRED: dict[Dataset, tuple[str, ...]] = {
    Dataset.COST_AND_USAGE: ("ChargePeriodStart", "BilledCost", "ServiceName", "ChargeCategory"),
    Dataset.CONTRACT_COMMITMENT: ("ContractCommitmentId", "ContractId", "ContractCommitmentCategory"),
}


@dataclass(frozen=True, slots=True)
class Binding:
    """A FOCUS column found in the table: its definition, the name it has in the table, its storage kind."""

    column: Column
    source: str
    kind: Kind


@dataclass(frozen=True, slots=True)
class Schema:
    """The outcome of binding: usable FOCUS columns (by FOCUS name) and file-level findings."""

    bindings: dict[str, Binding]
    findings: list[Finding]


def detect_version(names: list[str], dataset: Dataset = Dataset.COST_AND_USAGE) -> str:
    """The FOCUS version a header most likely follows: the latest one with one of its new columns present."""
    if dataset is Dataset.CONTRACT_COMMITMENT:
        return "1.3"
    present = set(names)
    for version in reversed(VERSIONS[1:]):
        new = {c.name for c in columns(version, dataset).values() if c.introduced_in == version}
        if present & new:
            return version
    return VERSIONS[0]


def detect_dataset(names: list[str]) -> Dataset:
    """Contract Commitment when the header has its key columns and no charge period, else Cost and Usage."""
    present = set(names)
    if {"ContractCommitmentId", "ContractId"} <= present and "ChargePeriodStart" not in present:
        return Dataset.CONTRACT_COMMITMENT
    return Dataset.COST_AND_USAGE


def classify(duckdb_type: str) -> Kind:
    """Map a DuckDB column type to how the validator reads it."""
    t = duckdb_type.upper()
    if t in ("VARCHAR", "JSON") or t.startswith("VARCHAR"):
        return "text"
    if t.startswith("DECIMAL") or t in {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
    }:
        return "exact"
    if t in ("FLOAT", "DOUBLE"):
        return "float"
    if t == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t == "DATE":
        return "date"
    if t == '"NULL"' or t == "NULL":
        return "null"
    return "other"


_COMPATIBLE: dict[str, tuple[Kind, ...]] = {
    # "null": a column with no value at all (Arrow's null type), fine for any FOCUS type.
    "String": ("text", "null"),
    "Decimal": ("text", "exact", "float", "null"),
    "Date/Time": ("text", "timestamp", "timestamptz", "date", "null"),
    "JSON": ("text", "null"),
}


def bind_columns(
    names_and_types: list[tuple[str, str]], *, profile: Profile, version: str, dataset: Dataset
) -> Schema:
    """Match table columns to the catalogue; report missing, unknown, duplicate and mistyped columns."""
    findings: list[Finding] = []
    defined = columns(version, dataset)
    bindings: dict[str, Binding] = {}
    seen: dict[str, str] = {}
    for name, duckdb_type in names_and_types:
        focus_name = _focus_name(name, profile, dataset, defined)
        renamed = _RENAMED_DUPLICATE.fullmatch(name)
        if focus_name is None and renamed and renamed.group(1) in seen:
            # DuckDB's CSV reader renames a repeated header `X` to `X_1`.
            findings.append(
                _file_error(name, "column-duplicate", f"column {renamed.group(1)} appears more than once")
            )
            continue
        if focus_name is None:
            if not is_custom_column(name):
                findings.append(_file_error(name, "column-unknown", _unknown_message(name, version, dataset)))
            continue
        if focus_name in seen:
            findings.append(
                _file_error(
                    name,
                    "column-duplicate",
                    f"column {name} appears more than once (as {seen[focus_name]} and {name}); "
                    "each FOCUS column must appear exactly once",
                )
            )
            continue
        seen[focus_name] = name
        definition = defined.get(focus_name) or latest_column(focus_name, dataset)
        assert definition is not None
        kind = classify(duckdb_type)
        if kind not in _COMPATIBLE[definition.data_type]:
            findings.append(
                _file_error(
                    name,
                    "column-type",
                    f"column {name} is stored as {duckdb_type}; FOCUS defines it as {definition.data_type}",
                )
            )
            continue
        if kind == "float":
            findings.append(
                Finding(
                    None,
                    name,
                    "column-type",
                    "warning",
                    f"column {name} is binary floating point ({duckdb_type}); FOCUS Decimal values may "
                    "already have lost exactness - prefer DECIMAL or text",
                )
            )
        bindings[focus_name] = Binding(definition, name, kind)
    findings.extend(_missing(bindings, profile, version, dataset))
    return Schema(bindings, findings)


def _focus_name(name: str, profile: Profile, dataset: Dataset, defined: dict[str, Column]) -> str | None:
    if name in defined:
        return name
    if profile != "ingest":
        return None
    if name in all_column_names(dataset):
        return name
    if dataset is Dataset.COST_AND_USAGE:
        if name in SEED_COST_AND_USAGE_NAMES:
            return SEED_COST_AND_USAGE_NAMES[name]
        rename = rename_for(name)
        if rename is not None:
            return rename.new
    return None


def _missing(bindings: dict[str, Binding], profile: Profile, version: str, dataset: Dataset) -> list[Finding]:
    findings = []
    if profile == "ingest":
        for name in INGEST_REQUIRED[dataset]:
            if name not in bindings:
                findings.append(
                    _file_error(name, "column-missing", f"required column {name} is missing (ingest profile)")
                )
        return findings
    for col in columns(version, dataset).values():
        if col.name in bindings:
            continue
        if col.mandatory:
            findings.append(
                _file_error(
                    col.name, "column-missing", f"mandatory FOCUS {version} column {col.name} is missing"
                )
            )
        elif col.feature_level == "Recommended":
            findings.append(
                Finding(
                    None,
                    col.name,
                    "column-recommended-missing",
                    "warning",
                    f"recommended FOCUS {version} column {col.name} is not present",
                )
            )
    return findings


def _unknown_message(name: str, version: str, dataset: Dataset) -> str:
    base = f"column {name} is not a FOCUS {version} column and custom columns must start with x_"
    rename = rename_for(name)
    if rename is not None:
        return f"{base}; it was renamed to {rename.new} ({rename.note})"
    if dataset is Dataset.COST_AND_USAGE and name in SEED_COST_AND_USAGE_NAMES:
        return f"{base}; use {SEED_COST_AND_USAGE_NAMES[name]}"
    other = latest_column(name, dataset)
    if other is not None:
        if VERSIONS.index(other.version) > VERSIONS.index(version):
            return f"{base}; {name} exists from FOCUS {other.introduced_in} (use a later --focus-version)"
        return f"{base}; {name} was dropped after FOCUS {other.version}"
    known = list(columns(version, dataset))
    by_case = {k.lower(): k for k in known}
    if name.lower() in by_case:
        return f"{base}; did you mean {by_case[name.lower()]}? (column names are case-sensitive)"
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    if close:
        return f"{base}; did you mean {close[0]}?"
    return f"{base} (rename it x_{name} if it is a custom column)"


def _file_error(column: str, rule: str, message: str) -> Finding:
    return Finding(None, column, rule, "error", message)
