"""The FOCUS column catalogue for versions 1.0 to 1.3, loaded from package data."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Literal

VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3")
LATEST_VERSION = "1.3"

DataType = Literal["String", "Decimal", "Date/Time", "JSON"]
FeatureLevel = Literal["Mandatory", "Conditional", "Recommended"]


class Dataset(StrEnum):
    """The FOCUS datasets; Contract Commitment exists from 1.3."""

    COST_AND_USAGE = "CostAndUsage"
    CONTRACT_COMMITMENT = "ContractCommitment"

    @classmethod
    def parse(cls, value: str) -> Dataset:
        """Accept `CostAndUsage`, `cost-and-usage`, `contract-commitment` and friends."""
        key = value.replace("-", "").replace("_", "").lower()
        for member in cls:
            if member.value.lower() == key:
                return member
        raise ValueError(f"unknown FOCUS dataset {value!r}; use cost-and-usage or contract-commitment")


@dataclass(frozen=True, slots=True)
class Column:
    """One column of one dataset in one FOCUS version."""

    name: str
    display_name: str
    data_type: DataType
    kind: Literal["Dimension", "Metric"]
    feature_level: FeatureLevel
    nullable: bool
    allowed_values: tuple[str, ...]
    introduced_in: str
    deprecated: bool
    version: str
    dataset: Dataset

    @property
    def mandatory(self) -> bool:
        return self.feature_level == "Mandatory"


@cache
def _load() -> dict[tuple[str, Dataset], dict[str, Column]]:
    table: dict[tuple[str, Dataset], dict[str, Column]] = {}
    text = resources.files("focusbase.focus").joinpath("data/columns.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines()):
        dataset = Dataset(row["dataset"])
        allowed = tuple(v for v in row["allowed_values"].split("|") if v)
        col = Column(
            name=row["column"],
            display_name=row["display_name"],
            data_type=row["data_type"],  # type: ignore[arg-type]
            kind=row["kind"],  # type: ignore[arg-type]
            feature_level=row["feature_level"],  # type: ignore[arg-type]
            nullable=row["nullable"] == "true",
            allowed_values=allowed,
            introduced_in=row["introduced_in"],
            deprecated=row["deprecated"] == "true",
            version=row["version"],
            dataset=dataset,
        )
        table.setdefault((col.version, dataset), {})[col.name] = col
    return table


def check_version(version: str) -> str:
    """Return the version if it is one we support, else raise ValueError naming the supported ones."""
    if version not in VERSIONS:
        raise ValueError(f"unsupported FOCUS version {version!r}; supported: {', '.join(VERSIONS)}")
    return version


def columns(version: str = LATEST_VERSION, dataset: Dataset = Dataset.COST_AND_USAGE) -> dict[str, Column]:
    """All columns of a dataset in a FOCUS version, keyed by name, in catalogue order."""
    check_version(version)
    if dataset is Dataset.CONTRACT_COMMITMENT and version != "1.3":
        raise ValueError("the Contract Commitment dataset exists from FOCUS 1.3")
    return dict(_load()[(version, dataset)])


def column(
    name: str, version: str = LATEST_VERSION, dataset: Dataset = Dataset.COST_AND_USAGE
) -> Column | None:
    """One column, or None when the version does not define it."""
    return columns(version, dataset).get(name)


def all_column_names(dataset: Dataset = Dataset.COST_AND_USAGE) -> tuple[str, ...]:
    """Every column name any supported version defines for the dataset, latest order first."""
    seen: dict[str, None] = {}
    for version in reversed(VERSIONS):
        if (version, dataset) in _load():
            seen.update(dict.fromkeys(_load()[(version, dataset)]))
    return tuple(seen)


def latest_column(name: str, dataset: Dataset = Dataset.COST_AND_USAGE) -> Column | None:
    """The newest definition of a column across versions (its type and allowed values)."""
    for version in reversed(VERSIONS):
        found = _load().get((version, dataset), {}).get(name)
        if found is not None:
            return found
    return None


def allowed_service_subcategories() -> dict[str, str]:
    """ServiceSubcategory value -> its one parent ServiceCategory (FOCUS 1.1+)."""
    col = latest_column("ServiceSubcategory")
    assert col is not None
    pairs = (value.split(">", 1) for value in col.allowed_values)
    return {sub: parent for parent, sub in pairs}


def is_custom_column(name: str) -> bool:
    """Custom (provider or generator defined) columns carry the `x_` prefix (ColumnHandling)."""
    return name.startswith("x_")
