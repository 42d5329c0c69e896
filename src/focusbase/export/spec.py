"""What an export job produces: the normalised request, and the columns of each output file. Pure."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from focusbase.focus import LATEST_VERSION, VERSIONS, Dataset, all_column_names, columns, current_name
from focusbase.query.filters import STRING_FILTER_COLUMNS, CostFilters, Scope

Format = Literal["csv", "parquet", "json"]
FORMATS: tuple[str, ...] = ("csv", "parquet", "json")
COMPRESSIONS: tuple[str, ...] = ("gzip",)
EXTENSIONS: dict[str, str] = {"csv": "csv", "parquet": "parquet", "json": "ndjson"}

# The supported window (docs/exports.md): every date-time of the window, in UTC, lies in these years. Year
# 9999 is Python's last; before 1900 no cloud bill exists, and years under 1000 would not even keep four
# digits in file names and job records.
MIN_YEAR = 1900
MAX_YEAR = 9999

# Custom columns become output columns only under a safe name; anything else stays out of the files.
_CUSTOM_NAME = re.compile(r"^x_[A-Za-z0-9_]{1,120}$")
# When a window has more custom columns than an export writes as columns, every row's custom values are
# also written whole, as one JSON object, in this column.
ALL_CUSTOM_COLUMN = "x_CustomColumns"


class ExportRequestError(ValueError):
    """An export request that cannot be run; `field` names the offending request property."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class OutputColumn:
    """One column of an output file: its FOCUS name in the target version and where it is stored."""

    name: str
    source: str  # warehouse column, or the x_columns key for custom columns
    data_type: str  # String | Decimal | Date/Time | JSON | Custom


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """A validated export request. Timestamps are naive UTC, as the warehouse stores them."""

    billing_period_start: datetime
    billing_period_end: datetime
    format: str = "csv"
    focus_version: str = LATEST_VERSION
    compression: str | None = None
    include_contract_commitments: bool = False
    filters: dict[str, str] = field(default_factory=dict)  # CostFilters attribute -> value

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "billing_period_start", _window_utc("billingPeriodStart", self.billing_period_start)
        )
        object.__setattr__(
            self, "billing_period_end", _window_utc("billingPeriodEnd", self.billing_period_end)
        )
        if self.format not in FORMATS:
            raise ExportRequestError("format", f"{self.format!r} is not one of {', '.join(FORMATS)}")
        if self.focus_version not in VERSIONS:
            raise ExportRequestError(
                "focusVersion",
                f"unsupported FOCUS version {self.focus_version!r}; use one of {', '.join(VERSIONS)}",
            )
        if self.compression is not None:
            if self.compression not in COMPRESSIONS:
                raise ExportRequestError(
                    "compression", f"{self.compression!r} is not supported; use gzip or omit it"
                )
            if self.format == "parquet":
                raise ExportRequestError(
                    "compression",
                    "gzip applies to csv and json; Parquet files are always compressed internally",
                )
        if self.include_contract_commitments and self.focus_version != "1.3":
            raise ExportRequestError(
                "includeContractCommitments", "the Contract Commitment dataset exists only in FOCUS 1.3"
            )
        unknown = sorted(set(self.filters) - set(STRING_FILTER_COLUMNS))
        if unknown:
            raise ExportRequestError("filters", f"unknown filter(s): {', '.join(unknown)}")

    def cost_filters(self, scope: Scope) -> CostFilters:
        """The read API's filters for this export, within the caller's scope."""
        return CostFilters(
            scope=scope,
            billing_period_start=self.billing_period_start,
            billing_period_end=self.billing_period_end,
            **self.filters,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form for the job record."""
        out = asdict(self)
        out["billing_period_start"] = _iso(self.billing_period_start)
        out["billing_period_end"] = _iso(self.billing_period_end)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportSpec:
        """The inverse of to_json."""
        values = dict(data)
        for name in ("billing_period_start", "billing_period_end"):
            values[name] = datetime.fromisoformat(values[name].replace("Z", "+00:00"))
        return cls(**values)

    @property
    def extension(self) -> str:
        """File extension of one data file, with the compression suffix."""
        ext = EXTENSIONS[self.format]
        return f"{ext}.gz" if self.compression == "gzip" else ext

    def file_name(self) -> str:
        """Name of the downloadable file: the data file, or the zip holding both datasets."""
        window = f"{self.billing_period_start:%Y-%m-%d}_{self.billing_period_end:%Y-%m-%d}"
        stem = f"focus-{self.focus_version}_{window}"
        if self.include_contract_commitments:
            return f"{stem}.zip"
        return f"cost-and-usage_{stem}.{self.extension}"

    def member_name(self, dataset: Dataset) -> str:
        """Name of a dataset's file inside the zip of an export with contract commitments."""
        base = "cost-and-usage" if dataset is Dataset.COST_AND_USAGE else "contract-commitment"
        return f"{base}.{self.extension}"


def _window_utc(name: str, value: datetime) -> datetime:
    """A window bound as naive UTC; ExportRequestError when it lies outside the supported years."""
    problem = ExportRequestError(
        name, f"must lie between the years {MIN_YEAR} and {MAX_YEAR} (UTC), got {value.isoformat()}"
    )
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # an offset pushing the value past year 9999 (or before year 1)
            raise problem from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise problem
    return value


def _iso(value: datetime) -> str:
    # isoformat keeps four-digit years and any microseconds, so from_json reads back exactly this window.
    return value.isoformat() + "Z"


def output_columns(
    version: str, dataset: Dataset, custom_keys: list[str], max_custom: int | None = None
) -> list[OutputColumn]:
    """The columns of one output file: the version's FOCUS columns in catalogue order, then custom x_ columns.

    A column renamed since `version` is read from its current (stored) name and written under the
    version's name; columns the version does not define are not written. When there are more than
    `max_custom` custom columns, the first `max_custom` (in name order) are written as columns and each
    row's whole custom object as JSON in ALL_CUSTOM_COLUMN, so a window whose rows carry thousands of
    different x_ keys exports within the engine's memory and loses no value.
    """
    stored = set(all_column_names(dataset))
    out = []
    for name, col in columns(version, dataset).items():
        source = current_name(name)
        if source not in stored:
            source = name
        out.append(OutputColumn(name=name, source=source, data_type=col.data_type))
    taken = {c.name for c in out}
    taken.add(ALL_CUSTOM_COLUMN)
    custom = [key for key in sorted(set(custom_keys)) if _CUSTOM_NAME.match(key) and key not in taken]
    if max_custom is not None and len(custom) > max_custom:
        kept = custom[:max_custom]
        out.extend(OutputColumn(name=key, source=key, data_type="Custom") for key in kept)
        out.append(OutputColumn(name=ALL_CUSTOM_COLUMN, source="x_columns", data_type="CustomAll"))
        return out
    out.extend(OutputColumn(name=key, source=key, data_type="Custom") for key in custom)
    return out
