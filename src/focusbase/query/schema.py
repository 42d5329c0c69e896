"""Schema metadata of the FOCUS read API: a ColumnDefinition for every column served, per FOCUS version."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources
from typing import Any

from focusbase import __version__
from focusbase.focus import VERSIONS, Column, Dataset, columns
from focusbase.query.filters import Scope
from focusbase.query.records import SEED_CUSTOM_TYPES, SERVED_VERSION
from focusbase.storage.served import ServedRecords

DATA_GENERATOR_NAME = "focusbase"
DATA_TYPES = {"String": "String", "Decimal": "Number", "Date/Time": "DateTime", "JSON": "JSON"}
REQUIREMENTS = {"Mandatory": "Must", "Recommended": "Recommended", "Conditional": "Optional"}


@cache
def descriptions() -> dict[str, str]:
    """Our description of every column, keyed by name (package data)."""
    text = (
        resources.files("focusbase.query")
        .joinpath("data/column_descriptions.csv")
        .read_text(encoding="utf-8")
    )
    return {row["column"]: row["description"] for row in csv.DictReader(text.splitlines())}


def served_nullable(col: Column) -> bool:
    """Whether a served value can be null: the column allows nulls, or is not Mandatory (may be absent)."""
    return col.nullable or col.feature_level != "Mandatory"


def column_definition(col: Column) -> dict[str, Any]:
    """The seed document's ColumnDefinition for a catalogue column."""
    return {
        "columnName": col.name,
        "dataType": DATA_TYPES[col.data_type],
        "requirement": REQUIREMENTS[col.feature_level],
        "nullable": served_nullable(col),
        "description": descriptions()[col.name],
        "category": col.kind,
    }


def _custom_definition(name: str, data_type: str = "String") -> dict[str, Any]:
    return {
        "columnName": name,
        "dataType": DATA_TYPES[data_type],
        "requirement": "Optional",
        "nullable": True,
        "description": descriptions().get(
            name, "A custom (x_) column sent by the data's provider; values are text."
        ),
        "category": "Dimension",
    }


def datasets(version: str) -> list[str]:
    """The datasets a FOCUS version defines (Contract Commitment from 1.3)."""
    return [d.value for d in Dataset if d is Dataset.COST_AND_USAGE or version >= "1.3"]


def schema_metadata(
    records: ServedRecords, scope: Scope, *, version: str, dataset: Dataset
) -> dict[str, Any]:
    """The SchemaMetadata body: FOCUS `version`'s columns of `dataset`, plus the custom columns served."""
    if version not in VERSIONS:
        raise ValueError(f"unknown FOCUS version {version!r}")
    defs: list[dict[str, Any]] = []
    if dataset.value in datasets(version):
        cols = columns(version, dataset)
        defs = [column_definition(col) for col in cols.values()]
        if dataset is Dataset.COST_AND_USAGE and version == SERVED_VERSION:
            region = column_definition(cols["RegionId"])
            defs.append({**region, "columnName": "Region", "description": descriptions()["Region"]})
            defs.extend(_custom_definition(name, data_type) for name, data_type in SEED_CUSTOM_TYPES.items())
        found = records.custom_column_names(dataset, scope)
        known = {d["columnName"] for d in defs}
        defs.extend(_custom_definition(name) for name in found if name not in known)
    return {
        "focusVersion": version,
        "dataGeneratorName": DATA_GENERATOR_NAME,
        "dataGeneratorVersion": __version__,
        "datasets": datasets(version),
        "columns": sorted(defs, key=lambda d: str(d["columnName"])),
    }
